package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimbridge/scimbridge/store"
)

// Store wraps a store so that its operations are timed. Methods not listed
// here pass through untimed.
func (m *Metrics) Store(st store.Store) store.Store {
	t := &timedStore{Store: st, m: m, obs: map[string]prometheus.Observer{}}
	for _, op := range []string{"GetUser", "GetUserByKey", "GetUserByUserName", "ListUsers", "GetGroup",
		"ListGroups", "GroupMembers", "ListActivity", "FindCredential", "Write"} {
		t.obs[op] = m.storeOps.WithLabelValues(op)
	}
	if l, ok := st.(locker); ok {
		// A store shared by several nodes keeps its cluster-wide lock
		// (ldapsync.RunLocker) through the wrapper.
		return &lockingStore{timedStore: t, locker: l}
	}
	return t
}

type locker interface {
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

type lockingStore struct {
	*timedStore
	locker
}

type timedStore struct {
	store.Store
	m   *Metrics
	obs map[string]prometheus.Observer
}

func (t *timedStore) done(op string, start time.Time, err error) {
	t.obs[op].Observe(time.Since(start).Seconds())
	if err != nil && store.KindOf(err) == store.KindInternal {
		t.m.storeErr.WithLabelValues(op).Inc()
	}
}

func (t *timedStore) GetUser(ctx context.Context, id string) (u *store.User, err error) {
	start := time.Now()
	u, err = t.Store.GetUser(ctx, id)
	t.done("GetUser", start, err)
	return
}

func (t *timedStore) GetUserByKey(ctx context.Context, key int64) (u *store.User, err error) {
	start := time.Now()
	u, err = t.Store.GetUserByKey(ctx, key)
	t.done("GetUserByKey", start, err)
	return
}

func (t *timedStore) GetUserByUserName(ctx context.Context, name string) (u *store.User, err error) {
	start := time.Now()
	u, err = t.Store.GetUserByUserName(ctx, name)
	t.done("GetUserByUserName", start, err)
	return
}

func (t *timedStore) ListUsers(ctx context.Context, q store.Query) (p *store.UserPage, err error) {
	start := time.Now()
	p, err = t.Store.ListUsers(ctx, q)
	t.done("ListUsers", start, err)
	return
}

func (t *timedStore) GetGroup(ctx context.Context, id string, withMembers bool) (g *store.Group, err error) {
	start := time.Now()
	g, err = t.Store.GetGroup(ctx, id, withMembers)
	t.done("GetGroup", start, err)
	return
}

func (t *timedStore) ListGroups(ctx context.Context, q store.Query) (p *store.GroupPage, err error) {
	start := time.Now()
	p, err = t.Store.ListGroups(ctx, q)
	t.done("ListGroups", start, err)
	return
}

func (t *timedStore) GroupMembers(ctx context.Context, key int64, offset, limit int) (ms []store.Member, err error) {
	start := time.Now()
	ms, err = t.Store.GroupMembers(ctx, key, offset, limit)
	t.done("GroupMembers", start, err)
	return
}

func (t *timedStore) ListActivity(ctx context.Context, q store.ActivityQuery) (as []store.Activity, n int, err error) {
	start := time.Now()
	as, n, err = t.Store.ListActivity(ctx, q)
	t.done("ListActivity", start, err)
	return
}

func (t *timedStore) FindCredential(ctx context.Context, kind, hash string) (c *store.Credential, err error) {
	start := time.Now()
	c, err = t.Store.FindCredential(ctx, kind, hash)
	t.done("FindCredential", start, err)
	return
}

func (t *timedStore) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) (err error) {
	start := time.Now()
	err = t.Store.Write(ctx, actor, fn)
	t.done("Write", start, err)
	return
}

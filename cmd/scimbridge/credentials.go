package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// cliActor is who the activity log says made a change from the command
// line: the door "cli" and the operator's login name.
func cliActor() store.Actor {
	who := os.Getenv("USER")
	if who == "" {
		who = "unknown"
	}
	return store.Actor{Door: "cli", Principal: who}
}

// credentialView is a listed token or key: what --json prints, and the
// text table's columns.
type credentialView struct {
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	// API is the dialect of an API key.
	API  string `json:"api,omitempty"`
	Name string `json:"name"`
	// User is the userName of the user the credential acts as or is bound
	// to; empty when unbound.
	User       string     `json:"user,omitempty"`
	Identifier string     `json:"identifier,omitempty"`
	Scopes     []string   `json:"scopes"`
	Created    time.Time  `json:"created"`
	Expires    *time.Time `json:"expires"`
	LastUsed   *time.Time `json:"lastUsed"`
}

// viewCredentials names each credential's user (not user=1).
func viewCredentials(ctx context.Context, st store.Reader, creds []store.Credential) ([]credentialView, error) {
	names := map[int64]string{}
	out := make([]credentialView, 0, len(creds))
	for _, c := range creds {
		v := credentialView{ID: c.ID, Kind: c.Kind, Name: c.Name, Identifier: c.Identifier,
			Scopes: append([]string{}, c.Scopes...), Created: c.Created.UTC(),
			Expires: optionalTime(c.Expires), LastUsed: optionalTime(c.LastUsed)}
		v.API, _ = strings.CutPrefix(c.Kind, "apikey:")
		if v.API == c.Kind {
			v.API = ""
		}
		if c.UserKey != 0 {
			name, ok := names[c.UserKey]
			if !ok {
				u, err := st.GetUserByKey(ctx, c.UserKey)
				switch {
				case store.IsNotFound(err):
					name = fmt.Sprintf("(deleted user %d)", c.UserKey)
				case err != nil:
					return nil, err
				default:
					name = u.UserName
				}
				names[c.UserKey] = name
			}
			v.User = name
		}
		out = append(out, v)
	}
	return out, nil
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// columns are the text table of a list: a header and aligned rows.
type columns struct {
	tw   *tabwriter.Writer
	rows int
}

func newColumns(w io.Writer, header ...string) *columns {
	c := &columns{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	fmt.Fprintln(c.tw, strings.Join(header, "\t"))
	return c
}

func (c *columns) row(cells ...string) {
	for i, s := range cells {
		if s == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(c.tw, strings.Join(cells, "\t"))
	c.rows++
}

func (c *columns) flush() error { return c.tw.Flush() }

// when formats a time for a table, in local time to the minute.
func when(t *time.Time, zero string) string {
	if t == nil {
		return zero
	}
	return t.Local().Format("2006-01-02 15:04")
}

// expiry is the EXPIRES cell: the time, marked when it has passed.
func expiry(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	if !t.After(now) {
		return "expired " + when(t, "")
	}
	return when(t, "")
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// revoke deletes credentials by id; an id of another kind than kinds is
// refused as unknown, so that `token revoke` cannot remove an API key.
func revoke(ctx context.Context, st store.Store, ids []string, stdout io.Writer, kinds ...string) error {
	if len(ids) == 0 {
		return usagef("give the id(s) to revoke")
	}
	allowed := map[int64]bool{}
	for _, k := range kinds {
		creds, err := st.ListCredentials(ctx, k)
		if err != nil {
			return err
		}
		for _, c := range creds {
			allowed[c.ID] = true
		}
	}
	for _, s := range ids {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || !allowed[id] {
			return fmt.Errorf("no such credential %q", s)
		}
	}
	for _, s := range ids {
		id, _ := strconv.ParseInt(s, 10, 64)
		if err := st.Write(ctx, cliActor(), func(tx store.Tx) error { return tx.DeleteCredential(ctx, id) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %d\n", id)
	}
	return nil
}

// expiringStore makes the credential that a Write creates expire at at,
// in the same transaction: auth's issuers take no expiry, and a token
// must never exist, even for a moment, without the one it was given.
type expiringStore struct {
	store.Store
	at time.Time
}

func (e expiringStore) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	return e.Store.Write(ctx, actor, func(tx store.Tx) error { return fn(expiringTx{tx, e.at}) })
}

type expiringTx struct {
	store.Tx
	at time.Time
}

func (t expiringTx) CreateCredential(ctx context.Context, c *store.Credential) error {
	c.Expires = t.at
	return t.Tx.CreateCredential(ctx, c)
}

// withExpiry returns st, or for a positive d a store whose new
// credentials expire d from now.
func withExpiry(st store.Store, d time.Duration) store.Store {
	if d <= 0 {
		return st
	}
	return expiringStore{st, time.Now().Add(d)}
}

// parseLifetime reads --expires: a Go duration (720h, 90m) or a number of
// days (90d).
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, usagef("--expires: want a positive duration such as 90d, 12h or 30m, got %q", s)
	}
	return d, nil
}

package ldapsync

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jimlambrt/gldap"
)

// fakeAD is an in-process LDAP server that answers like Active Directory
// where slapd cannot: it sends a large group's members in ranges of 1,500
// ("member;range=0-1499") and publishes highestCommittedUSN and
// dsServiceName in its root DSE.
type fakeAD struct {
	url        string
	users      int
	dsService  atomic.Value // string
	rangeReads atomic.Int32
}

const (
	fakeUsersDN  = "ou=people,dc=ad,dc=example"
	fakeGroupsDN = "ou=groups,dc=ad,dc=example"
	fakeGroupDN  = "cn=Everyone," + fakeGroupsDN
	adRangeStep  = 1500
)

func fakeUserDN(i int) string { return fmt.Sprintf("cn=user%04d,%s", i, fakeUsersDN) }

// fakeGUID is a 16-byte objectGUID for entry n.
func fakeGUID(n int) string {
	b := make([]byte, 16)
	b[0], b[1], b[15] = byte(n), byte(n>>8), 0xAD
	return string(b)
}

func startFakeAD(t *testing.T, users int) *fakeAD {
	t.Helper()
	ad := &fakeAD{users: users}
	ad.dsService.Store("CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=ad,DC=example")
	srv, err := gldap.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	mux, err := gldap.NewMux()
	if err != nil {
		t.Fatal(err)
	}
	_ = mux.Bind(func(w *gldap.ResponseWriter, r *gldap.Request) {
		_ = w.Write(r.NewBindResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
	})
	_ = mux.Search(ad.search)
	if err := srv.Router(mux); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Run(addr) }()
	t.Cleanup(func() { _ = srv.Stop(); wg.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("fake AD did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ad.url = "ldap://" + addr
	return ad
}

func (ad *fakeAD) search(w *gldap.ResponseWriter, r *gldap.Request) {
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	defer func() { _ = w.Write(done) }()
	m, err := r.GetSearchMessage()
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		return
	}
	entry := func(dn string, attrs map[string][]string) {
		_ = w.Write(r.NewSearchResponseEntry(dn, gldap.WithAttributes(attrs)))
	}
	incremental := strings.Contains(m.Filter, "uSNChanged>=")
	switch {
	case m.BaseDN == "":
		entry("", map[string][]string{"highestCommittedUSN": {"5000"}, "dsServiceName": {ad.dsService.Load().(string)}})
	case m.BaseDN == fakeUsersDN && !incremental:
		for i := range ad.users {
			entry(fakeUserDN(i), map[string][]string{
				"objectGUID": {fakeGUID(i)}, "sAMAccountName": {fmt.Sprintf("user%04d", i)},
				"userAccountControl": {"512"}, "uSNChanged": {strconv.Itoa(1000 + i)},
			})
		}
	case m.BaseDN == fakeGroupsDN && !incremental:
		entry(fakeGroupDN, map[string][]string{
			"objectGUID": {fakeGUID(60000)}, "cn": {"Everyone"},
			// Like AD: plain member is left out, the first range is sent.
			fmt.Sprintf("member;range=0-%d", adRangeStep-1): ad.members(0, adRangeStep),
		})
	case strings.EqualFold(m.BaseDN, fakeGroupDN) && len(m.Attributes) == 1:
		// A ranged read: "member;range=LOW-*".
		_, lo, _, ok := parseRange(m.Attributes[0])
		start, err := strconv.Atoi(lo)
		if !ok || err != nil {
			done.SetResultCode(gldap.ResultProtocolError)
			return
		}
		ad.rangeReads.Add(1)
		end := start + adRangeStep
		name := fmt.Sprintf("member;range=%d-%d", start, end-1)
		if end >= ad.users {
			end, name = ad.users, fmt.Sprintf("member;range=%d-*", start)
		}
		entry(fakeGroupDN, map[string][]string{name: ad.members(start, end)})
	}
}

func (ad *fakeAD) members(from, to int) []string {
	var out []string
	for i := from; i < min(to, ad.users); i++ {
		out = append(out, fakeUserDN(i))
	}
	return out
}

func TestActiveDirectoryRangedMembersAndDomainControllerChange(t *testing.T) {
	ad := startFakeAD(t, 3200)
	st := newStore(t)
	cfg := SourceConfig{
		Name: "corp", Preset: PresetActiveDirectory, URL: ad.url, BindDN: "CN=sync,DC=ad,DC=example", BindPassword: "x",
		Users: UserSearch{BaseDN: fakeUsersDN}, Groups: GroupSearch{BaseDN: fakeGroupsDN}, BatchSize: 1000,
	}
	s := newSyncer(t, st, cfg)
	rep := syncOnce(t, s, RunOptions{})
	if rep.Users.Created != 3200 || rep.Groups.Created != 1 || rep.Failed != 0 || rep.Unresolved != 0 {
		t.Fatalf("first run: %s %+v", rep.Summary(), rep.Errors)
	}
	// 0-1499 came with the search, 1500-2999 and 3000-* by ranged reads.
	if n := ad.rangeReads.Load(); n != 2 {
		t.Fatalf("ranged reads = %d, want 2", n)
	}
	g := mustGroup(t, st, "Everyone")
	ms, err := st.GroupMembers(context.Background(), g.Key, 0, -1)
	if err != nil || len(ms) != 3200 {
		t.Fatalf("Everyone has %d members, want 3200 (%v)", len(ms), err)
	}
	// The root DSE's highestCommittedUSN, read before the search, is the
	// watermark; the objectGUID bytes decode little-endian.
	if rep.Watermark != "5000" {
		t.Fatalf("watermark = %q, want the root DSE's 5000", rep.Watermark)
	}
	if u := mustUser(t, st, "user0258"); u.Source.ID != "00000102-0000-0000-0000-0000000000ad" {
		t.Fatalf("objectGUID decoded to %q", u.Source.ID)
	}

	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.ReadUsers != 0 {
		t.Fatalf("second run: %s", rep.Summary())
	}
	// USNs are per domain controller: a different DC forces a full sync.
	ad.dsService.Store("CN=NTDS Settings,CN=DC2,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=ad,DC=example")
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "full" || !strings.Contains(rep.Reason, "domain controller changed") || rep.ReadUsers != 3200 ||
		rep.Users.Created+rep.Users.Updated != 0 {
		t.Fatalf("run against another DC: %s (%s)", rep.Summary(), rep.Reason)
	}
}

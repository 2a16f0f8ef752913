package ldapsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// directory talks to one source. Every operation goes through do, which
// owns a connection's whole life: dial, StartTLS, bind, close.
type directory struct {
	cfg      SourceConfig
	password string
	tls      *tls.Config
}

func newDirectory(cfg SourceConfig, log *slog.Logger) (*directory, error) {
	pw, err := cfg.password()
	if err != nil {
		return nil, fmt.Errorf("source %s: bind password: %w", cfg.Name, err)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("source %s: url: %w", cfg.Name, err)
	}
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("source %s: caFile: %w", cfg.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("source %s: caFile %s holds no PEM certificate", cfg.Name, cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.InsecureSkipVerify {
		tc.InsecureSkipVerify = true
		log.Warn("ldapsync: TLS CERTIFICATE VERIFICATION IS DISABLED for this source (insecure_skip_verify); "+
			"anyone on the network path can read the bind password and forge directory data",
			"source", cfg.Name, "url", cfg.URL)
	}
	if u.Scheme == "ldap" && !cfg.StartTLS && cfg.BindDN != "" && !isLoopback(u.Hostname()) {
		log.Warn("ldapsync: the bind password travels unencrypted (ldap:// without start_tls)", "source", cfg.Name)
	}
	return &directory{cfg: cfg, password: pw, tls: tc}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dial opens a connection (with StartTLS when configured) without binding.
func (d *directory) dial(ctx context.Context) (*ldap.Conn, error) {
	dialer := &net.Dialer{Timeout: d.cfg.DialTimeout}
	conn, err := ldap.DialURL(d.cfg.URL, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(d.tls))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", d.cfg.URL, err)
	}
	conn.SetTimeout(d.cfg.RequestTimeout)
	if d.cfg.StartTLS {
		if err := conn.StartTLS(d.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("StartTLS %s: %w", d.cfg.URL, err)
		}
	}
	if err := ctx.Err(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// open dials and binds as the sync account. The connection closes when
// release is called, or as soon as ctx ends.
func (d *directory) open(ctx context.Context) (conn *ldap.Conn, release func(), err error) {
	conn, err = d.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	release = func() {
		stop()
		conn.Close()
	}
	if d.cfg.BindDN != "" {
		if err := conn.Bind(d.cfg.BindDN, d.password); err != nil {
			release()
			return nil, nil, fmt.Errorf("bind as %s: %w", d.cfg.BindDN, err)
		}
	}
	return conn, release, nil
}

// do runs fn on a connection bound as the sync account and closes it
// afterwards, or as soon as ctx ends.
func (d *directory) do(ctx context.Context, fn func(conn *ldap.Conn) error) error {
	conn, release, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer release()
	err = fn(conn)
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return ctxErr
	}
	return err
}

// scope converts the configured scope.
func scope(s string) int {
	if s == "one" {
		return ldap.ScopeSingleLevel
	}
	return ldap.ScopeWholeSubtree
}

// searchRequest searches under base with a configured scope ("sub", "one").
func searchRequest(base, scopeName, filter string, attrs []string) *ldap.SearchRequest {
	return ldap.NewSearchRequest(base, scope(scopeName), ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
}

// entryRequest reads attributes of the one entry dn ("" is the root DSE).
func entryRequest(dn string, attrs ...string) *ldap.SearchRequest {
	return ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", attrs, nil)
}

// andFilter narrows filter by one assertion, "(attr<op>value)", with value
// escaped: a DN or watermark can never change the filter's structure.
func andFilter(filter, attr, op, value string) string {
	return "(&" + filter + "(" + attr + op + ldap.EscapeFilter(value) + "))"
}

// pagedSearch streams the entries of a search page by page (RFC 2696),
// holding one page at a time. Search continuation references (referrals to
// other partitions) are not followed; they are counted.
func pagedSearch(ctx context.Context, conn *ldap.Conn, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) (referrals int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	paging := ldap.NewControlPaging(uint32(pageSize))
	req.Controls = append(req.Controls, paging)
	for {
		resp := conn.SearchAsync(ctx, req, pageSize)
		var cookie []byte
		for resp.Next() {
			if e := resp.Entry(); e != nil {
				if err := fn(e); err != nil {
					return referrals, err
				}
				continue
			}
			if resp.Referral() != "" {
				referrals++
				continue
			}
			if c, ok := ldap.FindControl(resp.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
				cookie = c.Cookie
			}
		}
		if err := resp.Err(); err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultReferral) {
				return referrals, fmt.Errorf("search base %s is a referral; referrals are not followed: %w", req.BaseDN, err)
			}
			return referrals, err
		}
		// SearchAsync reports a cancelled search as success.
		if err := ctx.Err(); err != nil {
			return referrals, err
		}
		if conn.IsClosing() {
			return referrals, errors.New("connection closed during search")
		}
		if len(cookie) == 0 {
			return referrals, nil
		}
		paging.SetCookie(cookie)
	}
}

// completeRanges replaces AD's ranged attributes ("member;range=0-1499",
// sent instead of a large "member") by the full value list, asking for the
// following ranges until the server answers with an end of "*".
func completeRanges(ctx context.Context, conn *ldap.Conn, e *ldap.Entry) error {
	for _, a := range e.Attributes {
		base, _, hi, ok := parseRange(a.Name)
		if !ok {
			continue
		}
		values := a.Values
		for hi != "*" {
			if err := ctx.Err(); err != nil {
				return err
			}
			end, err := strconv.Atoi(hi)
			if err != nil {
				return fmt.Errorf("%s: bad range end in %q", e.DN, a.Name)
			}
			want := fmt.Sprintf("%s;range=%d-*", base, end+1)
			res, err := conn.Search(entryRequest(e.DN, want))
			if err != nil {
				return fmt.Errorf("%s: ranged retrieval of %s: %w", e.DN, want, err)
			}
			hi = "*"
			if len(res.Entries) == 1 {
				for _, next := range res.Entries[0].Attributes {
					if b, _, h, ok := parseRange(next.Name); ok && strings.EqualFold(b, base) {
						values = append(values, next.Values...)
						hi = h
					}
				}
			}
		}
		a.Name, a.Values = base, values
		a.ByteValues = nil
	}
	return nil
}

// hasRanges says whether the entry holds a ranged attribute.
func hasRanges(e *ldap.Entry) bool {
	for _, a := range e.Attributes {
		if _, _, _, ok := parseRange(a.Name); ok {
			return true
		}
	}
	return false
}

// parseRange splits "member;range=0-1499" into ("member", "0", "1499").
func parseRange(name string) (base, lo, hi string, ok bool) {
	i := strings.Index(strings.ToLower(name), ";range=")
	if i < 0 {
		return "", "", "", false
	}
	lo, hi, ok = strings.Cut(name[i+len(";range="):], "-")
	return name[:i], lo, hi, ok
}

// rootDSE reads the server's root DSE attributes (empty when hidden).
func rootDSE(conn *ldap.Conn, attrs ...string) (*ldap.Entry, error) {
	res, err := conn.Search(entryRequest("", attrs...))
	if err != nil {
		return nil, err
	}
	if len(res.Entries) == 0 {
		return &ldap.Entry{}, nil
	}
	return res.Entries[0], nil
}

// syncResult is what one RFC 4533 refreshOnly search told.
type syncResult struct {
	cookie []byte
	// complete is true when the server listed every entry in scope (an
	// initial load or its present phase): what it did not list is gone.
	complete bool
	present  []string // unchanged entries' entryUUIDs (present phase)
	deleted  []string // deleted entries' entryUUIDs (delete phase)
	changed  []string // added or modified entries' entryUUIDs
	// refreshDeletes (a delete phase) and added decide complete.
	refreshDeletes bool
	added          int
}

// contentSync runs an RFC 4533 refreshOnly search from cookie (nil: from
// scratch). Added and modified entries go to fn; unchanged and deleted ones
// are only named, in the result. Deletes arrive either as entries in the
// delete state or as syncIdSet lists, which a client must not ignore.
func contentSync(ctx context.Context, conn *ldap.Conn, req *ldap.SearchRequest, cookie []byte, fn func(*ldap.Entry) error) (*syncResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := &syncResult{cookie: cookie}
	resp := conn.Syncrepl(ctx, req, 64, ldap.SyncRequestModeRefreshOnly, cookie, false)
	for resp.Next() {
		if e := resp.Entry(); e != nil {
			if err := res.entry(e, resp.Controls(), fn); err != nil {
				return nil, err
			}
			continue
		}
		res.controls(resp.Controls())
	}
	if err := resp.Err(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if conn.IsClosing() {
		return nil, errors.New("connection closed during content sync")
	}
	// Without a cookie the server sent everything. With one, a present
	// phase lists every unchanged entry; one that lists nothing is taken
	// as "no changes", never as "everything is gone".
	res.complete = cookie == nil || (!res.refreshDeletes && len(res.present)+res.added > 0)
	return res, nil
}

// entry sorts an entry by its sync state: added or modified entries go to
// fn, present and deleted ones are only named.
func (res *syncResult) entry(e *ldap.Entry, controls []ldap.Control, fn func(*ldap.Entry) error) error {
	st, _ := ldap.FindControl(controls, ldap.ControlTypeSyncState).(*ldap.ControlSyncState)
	if st == nil {
		return fmt.Errorf("%s: entry without a sync state control", e.DN)
	}
	switch st.State {
	case ldap.SyncStatePresent:
		res.present = append(res.present, st.EntryUUID.String())
	case ldap.SyncStateDelete:
		res.deleted = append(res.deleted, st.EntryUUID.String())
	default:
		res.added++
		res.changed = append(res.changed, st.EntryUUID.String())
		if err := fn(e); err != nil {
			return err
		}
	}
	res.setCookie(st.Cookie)
	return nil
}

// controls reads the sync info and sync done controls of a message that
// is not an entry.
func (res *syncResult) controls(controls []ldap.Control) {
	for _, c := range controls {
		switch c := c.(type) {
		case *ldap.ControlSyncInfo:
			res.info(c)
		case *ldap.ControlSyncDone:
			res.setCookie(c.Cookie)
			res.refreshDeletes = res.refreshDeletes || c.RefreshDeletes
		}
	}
}

// info reads a sync info message: a new cookie, the end of a refresh
// phase, or a syncIdSet naming present or deleted entries.
func (res *syncResult) info(c *ldap.ControlSyncInfo) {
	switch {
	case c.NewCookie != nil:
		res.cookie = c.NewCookie.Cookie
	case c.RefreshDelete != nil:
		res.refreshDeletes = true
		res.setCookie(c.RefreshDelete.Cookie)
	case c.RefreshPresent != nil:
		res.setCookie(c.RefreshPresent.Cookie)
	case c.SyncIdSet != nil:
		for _, u := range c.SyncIdSet.SyncUUIDs {
			if c.SyncIdSet.RefreshDeletes {
				res.deleted = append(res.deleted, u.String())
			} else {
				res.present = append(res.present, u.String())
			}
		}
		res.setCookie(c.SyncIdSet.Cookie)
	}
}

// setCookie keeps the newest non-empty cookie.
func (res *syncResult) setCookie(cookie []byte) {
	if len(cookie) > 0 {
		res.cookie = cookie
	}
}

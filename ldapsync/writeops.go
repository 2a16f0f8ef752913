package ldapsync

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/store"
)

// wbSource is a source with write-back on, and its connection state.
type wbSource struct {
	src      *source
	cfg      WriteBack
	attrs    []writtenAttribute
	userRDN  *rdnTemplate
	groupRDN *rdnTemplate
	defaults []defaultAttribute
	doors    map[string]bool
	ad       bool

	mu       sync.Mutex
	failures int
	next     time.Time
	err      string
}

// writtenAttribute is one SCIM attribute written to directory attribute dir.
type writtenAttribute struct {
	scim string
	dir  string
	get  func(u *store.User) []string
}

type defaultAttribute struct {
	dir  string
	tmpl *template
}

func newWBSource(src *source) (*wbSource, error) {
	c := src.cfg
	w := &wbSource{src: src, cfg: c.WriteBack, ad: c.Preset == PresetActiveDirectory}
	written := c.writtenAttributes()
	for i := range scimAttributes {
		a := &scimAttributes[i]
		if dir, ok := written[a.name]; ok && a.get != nil {
			w.attrs = append(w.attrs, writtenAttribute{scim: a.name, dir: dir, get: a.get})
		}
	}
	var err error
	if w.userRDN, err = parseRDNTemplate(w.cfg.UserRDN); err != nil {
		return nil, fmt.Errorf("source %s: write_back.user_rdn: %w", c.Name, err)
	}
	if w.groupRDN, err = parseRDNTemplate(w.cfg.GroupRDN); err != nil {
		return nil, fmt.Errorf("source %s: write_back.group_rdn: %w", c.Name, err)
	}
	keys := make([]string, 0, len(w.cfg.UserDefaults))
	for k := range w.cfg.UserDefaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t, err := parseTemplate(w.cfg.UserDefaults[k])
		if err != nil {
			return nil, fmt.Errorf("source %s: write_back.user_defaults.%s: %w", c.Name, k, err)
		}
		w.defaults = append(w.defaults, defaultAttribute{dir: k, tmpl: t})
	}
	if len(w.cfg.Doors) > 0 {
		w.doors = map[string]bool{}
		for _, d := range w.cfg.Doors {
			w.doors[d] = true
		}
	}
	return w, nil
}

// writes says whether changes made through the actor's door are written.
func (w *wbSource) writes(a store.Actor) bool {
	return a.Door != "ldapsync" && (w.doors == nil || w.doors[a.Door])
}

func (w *wbSource) backoffUntil() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

func (w *wbSource) lastError() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *wbSource) failedToConnect(now time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures++
	w.err = err.Error()
	w.next = now.Add(entryBackoff(w.cfg, w.failures))
}

func (w *wbSource) connected() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures, w.err, w.next = 0, "", time.Time{}
}

// delivery turns one result's entries into LDAP operations.
type delivery struct {
	p   *pass
	w   *wbSource
	res *result
	ops []op
}

// op is one LDAP operation: what it is, for people and dry runs, and how
// to perform it.
type op struct {
	what string
	do   func(ctx context.Context, conn *ldap.Conn) error
}

func (d *delivery) add(what string, do func(ctx context.Context, conn *ldap.Conn) error) {
	d.ops = append(d.ops, op{what: what, do: do})
}

func (d *delivery) describe() []string {
	out := make([]string, len(d.ops))
	for i, o := range d.ops {
		out[i] = o.what
	}
	return out
}

// perform runs the planned operations in order; the first that fails
// fails the delivery (a repeat is safe: see outbound.go).
func (d *delivery) perform(ctx context.Context, conn *ldap.Conn) error {
	for _, o := range d.ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := o.do(ctx, conn); err != nil {
			return fmt.Errorf("%s: %w", o.what, err)
		}
	}
	return nil
}

// plan fills d.ops for the result's entries.
func (d *delivery) plan(ctx context.Context) error {
	e := d.res.entries[0]
	if e.ResourceType == "Group" {
		return d.planGroup(ctx, e)
	}
	return d.planUser(ctx, e)
}

// name is the source's name.
func (d *delivery) name() string { return d.w.src.cfg.Name }

// planUser plans a user's change: create an unknown user, write what
// changed of a linked one, its password, or its deletion.
func (d *delivery) planUser(ctx context.Context, e *store.OutboxEntry) error {
	link, err := d.p.currentLink(ctx, "User", e.ResourceID, entrySource(e))
	if err != nil {
		return err
	}
	if e.Action == "user.delete" {
		d.res.dropPassword = e.ResourceID
		if link.Name == "" {
			d.res.d.Note = "never written to the directory"
			return nil
		}
		return d.planUserDelete(link)
	}
	if link.Name == "" {
		// Unknown to the directory: this change creates it, from the user
		// as it stands after the change (a password change or an update
		// of a user that predates write-back too).
		u := e.User
		if u == nil || e.Action == "password.change" {
			if u, err = d.p.o.s.st.GetUser(ctx, e.ResourceID); store.IsNotFound(err) {
				d.res.d.Note = "deleted since"
				return nil
			} else if err != nil {
				return err
			}
		}
		return d.planUserCreate(ctx, u)
	}
	switch e.Action {
	case "user.create":
		d.res.d.Note = "already in the directory (linked)"
		return nil
	case "password.change":
		return d.planPassword(ctx, e.ResourceID, link)
	}
	return d.planUserUpdate(ctx, e.UserBefore, e.User, link)
}

// userValues renders what the map writes for u, by directory attribute.
func (d *delivery) userValues(ctx context.Context, u *store.User) (map[string][]string, error) {
	out := map[string][]string{}
	for _, a := range d.w.attrs {
		vs, err := d.valuesOf(ctx, a, u)
		if err != nil {
			return nil, err
		}
		if len(vs) > 0 {
			out[a.dir] = vs
		}
	}
	return out, nil
}

// valuesOf is one attribute's values for u; a manager becomes the DN of
// the manager's entry in this directory (none when it has none there).
func (d *delivery) valuesOf(ctx context.Context, a writtenAttribute, u *store.User) ([]string, error) {
	vs := a.get(u)
	if a.scim != "enterprise.manager" || len(vs) == 0 {
		return vs, nil
	}
	link, err := d.p.currentLink(ctx, "User", vs[0], store.Source{})
	if err != nil || link.Name != d.name() || link.DN == "" {
		return nil, err
	}
	return []string{link.DN}, nil
}

// userRDN renders a user's RDN.
func (d *delivery) userRDN(u *store.User) (string, error) {
	v, ok := d.w.userRDN.value.render(func(a string) string { return userField(u, a) })
	if !ok || strings.TrimSpace(v) == "" {
		return "", permanentf("user %s has no value for write_back.user_rdn %q", u.UserName, d.w.cfg.UserRDN)
	}
	return d.w.userRDN.attr + "=" + ldap.EscapeDN(v), nil
}

// planUserCreate adds the user's entry, reads its identity back and links
// the user to it; then its password, if a door gave one.
func (d *delivery) planUserCreate(ctx context.Context, u *store.User) error {
	rdn, err := d.userRDN(u)
	if err != nil {
		return err
	}
	cfg := d.w.cfg
	parent := cfg.UserBase
	if !u.Active && cfg.Deactivate == MethodMove {
		parent = cfg.DeactivateContainer
	}
	dn := rdn + "," + parent
	vals, err := d.userValues(ctx, u)
	if err != nil {
		return err
	}
	rdnAttr, rdnValue, _ := strings.Cut(rdn, "=")
	if v, _ := ldap.ParseDN(rdn); v != nil && len(v.RDNs) == 1 && len(v.RDNs[0].Attributes) == 1 {
		rdnValue = v.RDNs[0].Attributes[0].Value
	}
	setFold(vals, rdnAttr, ensureValue(getFold(vals, rdnAttr), rdnValue))
	for _, def := range d.w.defaults {
		if len(getFold(vals, def.dir)) > 0 {
			continue
		}
		if v, ok := def.tmpl.render(func(a string) string { return userField(u, a) }); ok && v != "" {
			setFold(vals, def.dir, []string{v})
		}
	}
	password, hasPassword, err := d.sealedPassword(ctx, u.ID)
	if err != nil {
		return err
	}
	// AD enables an account only once it has a password its policy
	// accepts: create it disabled, set the password, then enable it.
	enableAfter := false
	switch cfg.Deactivate {
	case DeactivateUAC:
		uac := uacNormalAccount
		if !u.Active || (d.w.ad && hasPassword) {
			uac |= uacAccountDisable
		}
		enableAfter = u.Active && d.w.ad && hasPassword
		setFold(vals, "userAccountControl", []string{strconv.Itoa(uac)})
	case DeactivateAttribute:
		if !u.Active {
			setFold(vals, cfg.DeactivateAttribute, []string{cfg.DeactivateValue})
		} else if cfg.ActivateValue != "" {
			setFold(vals, cfg.DeactivateAttribute, []string{cfg.ActivateValue})
		}
	}
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", cfg.UserObjectClasses)
	for _, k := range sortedKeys(vals) {
		req.Attribute(k, vals[k])
	}
	d.res.linkType, d.res.linkID = "User", u.ID
	d.res.link = &store.Source{Name: d.name(), DN: dn}
	d.add("add "+dn+" "+describeAttrs(req.Attributes), func(ctx context.Context, conn *ldap.Conn) error {
		return d.addEntry(ctx, conn, req, cfg.LinkAttribute, u.ID, "User")
	})
	if hasPassword {
		d.planSetPassword(password)
		d.res.dropPassword = u.ID
	}
	if enableAfter {
		d.add("modify "+dn+" replace userAccountControl: "+strconv.Itoa(uacNormalAccount), func(ctx context.Context, conn *ldap.Conn) error {
			m := ldap.NewModifyRequest(d.res.link.DN, nil)
			m.Replace("userAccountControl", []string{strconv.Itoa(uacNormalAccount)})
			return conn.Modify(m)
		})
	}
	return nil
}

// uacNormalAccount is userAccountControl's NORMAL_ACCOUNT.
const uacNormalAccount = 0x200

// addEntry adds req and links the resource to the new entry. When the DN
// is taken, the existing entry is linked only if its link attribute holds
// the value the resource would write; otherwise nothing is overwritten
// and the change is reported.
func (d *delivery) addEntry(ctx context.Context, conn *ldap.Conn, req *ldap.AddRequest, linkAttr, id, typ string) error {
	err := conn.Add(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		return err
	}
	idAttr := d.w.src.cfg.IDAttribute
	attrs := []string{idAttr}
	if linkAttr != "" && linkAttr != MethodNone {
		attrs = append(attrs, linkAttr)
	}
	res, rerr := conn.Search(entryRequest(req.DN, attrs...))
	if rerr != nil || len(res.Entries) != 1 {
		return fmt.Errorf("read back %s: %v", req.DN, rerr)
	}
	found := res.Entries[0]
	if err != nil {
		// The DN is taken: ours from an earlier attempt, or another's.
		if linkAttr == "" || linkAttr == MethodNone {
			return permanentf("%s already exists; write_back.link_attribute is none, so it is not linked", req.DN)
		}
		var want []string
		for _, a := range req.Attributes {
			if strings.EqualFold(a.Type, linkAttr) {
				want = a.Vals
			}
		}
		got := found.GetEqualFoldAttributeValues(linkAttr)
		if !slices.ContainsFunc(got, func(v string) bool {
			return slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(v, w) })
		}) {
			return permanentf("%s already exists and its %s %v is not %v: not linked, not overwritten", req.DN, linkAttr, got, want)
		}
	}
	sid, ierr := identity(found, idAttr)
	if ierr != nil {
		return ierr
	}
	if err := d.notLinkedElsewhere(ctx, typ, id, sid, req.DN); err != nil {
		return err
	}
	d.res.link = &store.Source{Name: d.name(), ID: sid, DN: req.DN}
	if err != nil {
		d.res.d.Note = "linked to the existing entry"
	}
	return nil
}

// notLinkedElsewhere refuses to link a resource to an entry another
// resource is already linked to.
func (d *delivery) notLinkedElsewhere(ctx context.Context, typ, id, sourceID, dn string) error {
	var other string
	var err error
	if typ == "Group" {
		var g *store.Group
		if g, err = d.p.o.s.st.GetGroupBySource(ctx, d.name(), sourceID); err == nil {
			other = g.ID
		}
	} else {
		var u *store.User
		if u, err = d.p.o.s.st.GetUserBySource(ctx, d.name(), sourceID); err == nil {
			other = u.ID
		}
	}
	if err != nil && !store.IsNotFound(err) {
		return err
	}
	if other != "" && other != id {
		return permanentf("%s already exists and is linked to another %s (%s)", dn, strings.ToLower(typ), other)
	}
	return nil
}

// planUserUpdate writes what changed between before and after: a new RDN
// (modrdn, which keeps the entry and its identity), the attributes that
// changed, and the activity.
func (d *delivery) planUserUpdate(ctx context.Context, before, after *store.User, link store.Source) error {
	if after == nil {
		return nil
	}
	if before == nil {
		before = &store.User{}
	}
	dn := link.DN
	oldRDN, _ := d.userRDN(before)
	newRDN, err := d.userRDN(after)
	if err != nil {
		return err
	}
	if oldRDN != newRDN && !strings.EqualFold(firstRDN(dn), newRDN) {
		d.planRename("User", after.ID, link, newRDN)
		link.DN = newRDN + "," + parentDN(dn)
	}
	rdnAttr, _, _ := strings.Cut(newRDN, "=")
	m := ldap.NewModifyRequest(link.DN, nil)
	for _, a := range d.w.attrs {
		if strings.EqualFold(a.dir, rdnAttr) {
			continue // the modrdn wrote it
		}
		old, err := d.valuesOf(ctx, a, before)
		if err != nil {
			return err
		}
		now, err := d.valuesOf(ctx, a, after)
		if err != nil {
			return err
		}
		if !slices.Equal(old, now) {
			// Replace with no values removes the attribute, and is no
			// error when it is absent: safe to repeat.
			m.Replace(a.dir, now)
		}
	}
	if len(m.Changes) > 0 {
		d.add("modify "+link.DN+" "+describeChanges(m.Changes), func(ctx context.Context, conn *ldap.Conn) error {
			return d.onEntry(ctx, conn, d.linkNow("User", after.ID, link), func(dn string) error {
				m.DN = dn
				return conn.Modify(m)
			})
		})
	}
	if before.Active != after.Active && before.ID != "" {
		d.planActive(after, d.linkNow("User", after.ID, link), after.Active)
	}
	return nil
}

// planRename gives an entry a new RDN (modrdn: the entry, its identity
// and its other attributes stay). Outside AD, whose member links follow
// by themselves, the member values naming the old DN are rewritten too,
// as refint would: also when an earlier attempt renamed the entry, since
// changes delivered again before it may have named the old DN once more.
func (d *delivery) planRename(typ, id string, link store.Source, newRDN string) {
	d.add("modrdn "+link.DN+" → "+newRDN, func(ctx context.Context, conn *ldap.Conn) error {
		oldDN := link.DN
		return d.onEntry(ctx, conn, link, func(dn string) error {
			newDN := newRDN + "," + parentDN(dn)
			err := conn.ModifyDN(ldap.NewModifyDNRequest(dn, newRDN, true, ""))
			if err != nil && strings.EqualFold(firstRDN(dn), newRDN) {
				err = nil // renamed by an earlier attempt
			}
			if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) && d.isEntry(conn, newDN, link.ID) {
				err = nil
			}
			if err != nil {
				return err
			}
			l := link
			l.DN = newDN
			d.setLink(typ, id, l)
			if d.w.ad {
				return nil
			}
			return d.renameInGroups(ctx, conn, oldDN, newDN)
		})
	})
}

// renameInGroups rewrites the member values naming oldDN to newDN in the
// groups of the source's group scope.
func (d *delivery) renameInGroups(ctx context.Context, conn *ldap.Conn, oldDN, newDN string) error {
	groups, err := d.groupsListing(ctx, conn, oldDN)
	if err != nil {
		return err
	}
	attr := d.w.cfg.GroupMemberAttribute
	for _, gdn := range groups {
		m := ldap.NewModifyRequest(gdn, nil)
		m.Delete(attr, []string{oldDN})
		m.Add(attr, []string{newDN})
		err := conn.Modify(m)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
			err = d.removeMembers(conn, gdn, []string{oldDN})
		}
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
			return err
		}
	}
	return nil
}

// groupsListing finds the groups in the source's group scope whose member
// attribute names dn.
func (d *delivery) groupsListing(ctx context.Context, conn *ldap.Conn, dn string) ([]string, error) {
	g := d.w.src.cfg.Groups
	if g.BaseDN == "" {
		return nil, nil
	}
	req := searchRequest(g.BaseDN, "sub", "("+d.w.cfg.GroupMemberAttribute+"="+ldap.EscapeFilter(dn)+")", []string{"1.1"})
	var groups []string
	_, err := pagedSearch(ctx, conn, req, d.w.src.cfg.PageSize, func(e *ldap.Entry) error {
		groups = append(groups, e.DN)
		return nil
	})
	return groups, err
}

// planActive writes an activation or a deactivation.
func (d *delivery) planActive(u *store.User, link store.Source, active bool) {
	cfg := d.w.cfg
	switch cfg.Deactivate {
	case DeactivateUAC:
		what := "set"
		if active {
			what = "clear"
		}
		d.add(fmt.Sprintf("modify %s userAccountControl: %s ACCOUNTDISABLE (0x2)", link.DN, what), func(ctx context.Context, conn *ldap.Conn) error {
			return d.onEntry(ctx, conn, d.linkNow("User", u.ID, link), func(dn string) error { return setAccountDisabled(conn, dn, !active) })
		})
	case DeactivateAttribute:
		m := ldap.NewModifyRequest(link.DN, nil)
		switch {
		case !active:
			m.Replace(cfg.DeactivateAttribute, []string{cfg.DeactivateValue})
		case cfg.ActivateValue != "":
			m.Replace(cfg.DeactivateAttribute, []string{cfg.ActivateValue})
		default:
			m.Replace(cfg.DeactivateAttribute, nil)
		}
		d.add("modify "+link.DN+" "+describeChanges(m.Changes), func(ctx context.Context, conn *ldap.Conn) error {
			return d.onEntry(ctx, conn, d.linkNow("User", u.ID, link), func(dn string) error {
				m.DN = dn
				return conn.Modify(m)
			})
		})
	case MethodMove:
		to := cfg.DeactivateContainer
		if active {
			to = cfg.UserBase
		}
		d.planMove("User", u.ID, link, to)
	}
}

// planMove moves an entry under another container, keeping its RDN.
func (d *delivery) planMove(typ, id string, link store.Source, to string) {
	d.add("modrdn "+link.DN+" → under "+to, func(ctx context.Context, conn *ldap.Conn) error {
		return d.onEntry(ctx, conn, d.linkNow(typ, id, link), func(dn string) error {
			if normDN(parentDN(dn)) == normDN(to) {
				return nil
			}
			rdn := firstRDN(dn)
			err := conn.ModifyDN(ldap.NewModifyDNRequest(dn, rdn, true, to))
			if err == nil {
				link.DN = rdn + "," + to
				d.setLink(typ, id, link)
			}
			return err
		})
	})
}

// setAccountDisabled sets or clears AD's ACCOUNTDISABLE bit, keeping the
// other bits of userAccountControl.
func setAccountDisabled(conn *ldap.Conn, dn string, disabled bool) error {
	res, err := conn.Search(entryRequest(dn, "userAccountControl"))
	if err != nil {
		return err
	}
	uac := uacNormalAccount
	if len(res.Entries) == 1 {
		if v, err := strconv.Atoi(res.Entries[0].GetAttributeValue("userAccountControl")); err == nil {
			uac = v
		}
	}
	next := uac &^ uacAccountDisable
	if disabled {
		next |= uacAccountDisable
	}
	if next == uac {
		return nil
	}
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace("userAccountControl", []string{strconv.Itoa(next)})
	return conn.Modify(m)
}

// planUserDelete applies write_back.on_delete to a deleted user's entry.
func (d *delivery) planUserDelete(link store.Source) error {
	id := d.res.entries[0].ResourceID
	switch d.w.cfg.OnDelete {
	case MethodDelete:
		d.planDelete("User", id, link)
	case MethodDeactivate:
		d.planActive(&store.User{ID: id}, link, false)
	case MethodMove:
		d.planMove("User", id, link, d.w.cfg.DeleteContainer)
	}
	return nil
}

// planDelete deletes an entry; outside AD (which keeps member values
// itself) the member values naming it go first, so no group keeps a DN
// that names nothing.
func (d *delivery) planDelete(typ, id string, link store.Source) {
	d.add("delete "+link.DN, func(ctx context.Context, conn *ldap.Conn) error {
		err := d.onEntry(ctx, conn, link, func(dn string) error {
			if !d.w.ad {
				if err := d.removeFromGroups(ctx, conn, dn); err != nil {
					return err
				}
			}
			return conn.Del(ldap.NewDelRequest(dn, nil))
		})
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil // deleted by an earlier attempt
		}
		return err
	})
}

// removeFromGroups removes dn from the member values of the groups in the
// source's group scope.
func (d *delivery) removeFromGroups(ctx context.Context, conn *ldap.Conn, dn string) error {
	groups, err := d.groupsListing(ctx, conn, dn)
	if err != nil {
		return err
	}
	for _, gdn := range groups {
		if err := d.removeMembers(conn, gdn, []string{dn}); err != nil {
			return err
		}
	}
	return nil
}

// sealedPassword opens the password a door gave for the user, if any.
func (d *delivery) sealedPassword(ctx context.Context, userID string) (store.Secret, bool, error) {
	if d.p.o.seal == nil {
		return "", false, nil
	}
	obj, err := d.p.o.s.st.GetObject(ctx, PasswordKind, userID)
	if store.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	pw, err := d.p.o.seal.open(userID, obj.Doc)
	if err != nil {
		return "", false, permanentf("%v", err)
	}
	return pw, true, nil
}

// planPassword writes a changed password, when a door gave it in clear.
func (d *delivery) planPassword(ctx context.Context, userID string, link store.Source) error {
	pw, ok, err := d.sealedPassword(ctx, userID)
	if err != nil {
		return err
	}
	if !ok {
		if d.p.o.seal == nil {
			d.res.d.Note = "password not written: no write_back.password_key_file"
		} else {
			d.res.d.Note = "password not written: the door gave none in clear (or a later change wrote it)"
		}
		return nil
	}
	d.res.dropPassword = userID
	d.res.link = nil
	d.planSetPasswordAt(userID, link, pw)
	return nil
}

// planSetPassword sets the password of the entry this delivery creates.
func (d *delivery) planSetPassword(pw store.Secret) {
	d.planSetPasswordAt(d.res.linkID, store.Source{}, pw)
}

// planSetPasswordAt sets a password: AD's unicodePwd (only over TLS, as
// AD itself insists), elsewhere the Password Modify extended operation
// (RFC 3062), which lets the server hash it its way.
func (d *delivery) planSetPasswordAt(userID string, link store.Source, pw store.Secret) {
	if d.w.ad {
		d.add("modify "+dnOr(link.DN)+" replace unicodePwd: [redacted]", func(ctx context.Context, conn *ldap.Conn) error {
			if _, ok := conn.TLSConnectionState(); !ok {
				return permanentf("AD takes unicodePwd only over LDAPS or StartTLS; the connection to %s is not encrypted", d.w.src.cfg.URL)
			}
			return d.onEntry(ctx, conn, d.linkNow("User", userID, link), func(dn string) error {
				m := ldap.NewModifyRequest(dn, nil)
				m.Replace("unicodePwd", []string{unicodePwd(pw)})
				if err := conn.Modify(m); err != nil {
					return err
				}
				d.readPasswordChanged(conn, userID, dn)
				return nil
			})
		})
		return
	}
	d.add("password modify (RFC 3062) "+dnOr(link.DN)+": [redacted]", func(ctx context.Context, conn *ldap.Conn) error {
		return d.onEntry(ctx, conn, d.linkNow("User", userID, link), func(dn string) error {
			if _, err := conn.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", string(pw))); err != nil {
				return err
			}
			d.readPasswordChanged(conn, userID, dn)
			return nil
		})
	})
}

// readPasswordChanged reads back the password-change time (the attribute
// map's passwordChanged) of the entry whose password this delivery just
// set, for the commit to store with the user. The door that changed the
// password already ended the sessions of the old one; without this, the
// next inbound run would see the time move, take it for a change made in
// the directory, and end the sessions of the new one too. A failed read
// costs only that: the password is written, so the delivery stands.
func (d *delivery) readPasswordChanged(conn *ldap.Conn, userID, dn string) {
	attr := d.w.src.cfg.Attributes[attrPasswordChanged]
	if attr == "" {
		return
	}
	res, err := conn.Search(entryRequest(dn, attr))
	if err != nil || len(res.Entries) != 1 {
		return
	}
	r := &record{Attrs: map[string][]string{strings.ToLower(attr): res.Entries[0].GetEqualFoldAttributeValues(attr)}}
	d.res.pwdChangedID, d.res.pwdChanged = userID, d.w.src.m.passwordChanged(r)
}

// dnOr names a DN in a description, or the entry this delivery creates.
func dnOr(dn string) string {
	if dn == "" {
		return "(the new entry)"
	}
	return dn
}

// unicodePwd encodes a password as AD wants it: the quoted password in
// UTF-16LE.
func unicodePwd(pw store.Secret) string {
	u := utf16.Encode([]rune(`"` + string(pw) + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return string(b)
}

// linkNow is the resource's link as this pass knows it when an operation
// runs (an earlier operation may have moved or created the entry).
func (d *delivery) linkNow(typ, id string, fallback store.Source) store.Source {
	if d.res.link != nil && d.res.linkType == typ && d.res.linkID == id {
		return *d.res.link
	}
	if l, ok := d.p.links[typ+"/"+id]; ok {
		return l
	}
	return fallback
}

// setLink records a moved or renamed entry's new DN.
func (d *delivery) setLink(typ, id string, link store.Source) {
	d.res.linkType, d.res.linkID = typ, id
	l := link
	d.res.link = &l
}

// onEntry runs fn on the entry's DN; when the entry is not there (moved
// or renamed in the directory since the store last saw it), it finds the
// entry by its identity and runs fn again on the DN found.
func (d *delivery) onEntry(ctx context.Context, conn *ldap.Conn, link store.Source, fn func(dn string) error) error {
	err := ldap.NewError(ldap.LDAPResultNoSuchObject, errors.New("no DN known"))
	if link.DN != "" {
		err = fn(link.DN)
	}
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || link.ID == "" {
		return err
	}
	dn, ferr := d.findEntry(ctx, conn, link.ID)
	if ferr != nil || dn == "" || strings.EqualFold(dn, link.DN) {
		return err
	}
	return fn(dn)
}

// findEntry searches the source's scopes for the entry with this
// identity.
func (d *delivery) findEntry(ctx context.Context, conn *ldap.Conn, sourceID string) (string, error) {
	c := d.w.src.cfg
	filter, err := identityFilter(c.IDAttribute, sourceID)
	if err != nil {
		return "", err
	}
	for _, base := range []string{c.Users.BaseDN, c.Groups.BaseDN} {
		if base == "" {
			continue
		}
		res, err := conn.Search(searchRequest(base, "sub", filter, []string{"1.1"}))
		if err != nil {
			return "", err
		}
		if len(res.Entries) == 1 {
			return res.Entries[0].DN, nil
		}
	}
	return "", ctx.Err()
}

// isEntry says whether the entry at dn has the identity.
func (d *delivery) isEntry(conn *ldap.Conn, dn, sourceID string) bool {
	res, err := conn.Search(entryRequest(dn, d.w.src.cfg.IDAttribute))
	if err != nil || len(res.Entries) != 1 {
		return false
	}
	id, err := identity(res.Entries[0], d.w.src.cfg.IDAttribute)
	return err == nil && id == sourceID
}

// identityFilter matches an entry by its identity: entryUUID as text,
// objectGUID as the escaped bytes of the GUID.
func identityFilter(idAttr, id string) (string, error) {
	if !strings.EqualFold(idAttr, "objectGUID") {
		return "(" + idAttr + "=" + ldap.EscapeFilter(id) + ")", nil
	}
	b, err := guidBytesOf(id)
	if err != nil {
		return "", err
	}
	var f strings.Builder
	f.WriteString("(objectGUID=")
	for _, c := range b {
		fmt.Fprintf(&f, "\\%02x", c)
	}
	f.WriteString(")")
	return f.String(), nil
}

// guidBytesOf is guidString's inverse.
func guidBytesOf(s string) ([]byte, error) {
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		return nil, fmt.Errorf("%q is not a GUID", s)
	}
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:4], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(b[4:6], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(raw[6:8]))
	copy(b[8:], raw[8:])
	return b, nil
}

// planGroup plans a group's change.
func (d *delivery) planGroup(ctx context.Context, e *store.OutboxEntry) error {
	link, err := d.p.currentLink(ctx, "Group", e.ResourceID, entrySource(e))
	if err != nil {
		return err
	}
	if e.Action == "group.delete" {
		if link.Name == "" {
			d.res.d.Note = "never written to the directory"
			return nil
		}
		d.planDelete("Group", e.ResourceID, link)
		return nil
	}
	if link.Name == "" {
		// Unknown to the directory: created now, with its members as they
		// stand (which covers the membership changes that follow).
		g, err := d.p.o.s.st.GetGroup(ctx, e.ResourceID, false)
		if store.IsNotFound(err) {
			d.res.d.Note = "deleted since"
			return nil
		}
		if err != nil {
			return err
		}
		return d.planGroupCreate(ctx, g)
	}
	switch e.Action {
	case "group.create":
		d.res.d.Note = "already in the directory (linked)"
		return nil
	case "group.update":
		return d.planGroupUpdate(e.GroupBefore, e.Group, link)
	}
	return d.planMembers(ctx, link)
}

func (d *delivery) groupRDN(g *store.Group) (string, error) {
	v, ok := d.w.groupRDN.value.render(func(a string) string { return groupField(g, a) })
	if !ok || strings.TrimSpace(v) == "" {
		return "", permanentf("group %s has no value for write_back.group_rdn %q", g.ID, d.w.cfg.GroupRDN)
	}
	return d.w.groupRDN.attr + "=" + ldap.EscapeDN(v), nil
}

// planGroupCreate adds the group's entry with its current members.
func (d *delivery) planGroupCreate(ctx context.Context, g *store.Group) error {
	cfg := d.w.cfg
	rdn, err := d.groupRDN(g)
	if err != nil {
		return err
	}
	dn := rdn + "," + cfg.GroupBase
	members, err := d.p.o.s.st.GroupMembers(ctx, g.Key, 0, -1)
	if err != nil {
		return err
	}
	var dns []string
	for _, m := range members {
		link, err := d.p.currentLink(ctx, string(m.Type), m.ID, store.Source{})
		if err != nil {
			return err
		}
		if link.Name == d.name() && link.DN != "" {
			dns = append(dns, link.DN)
		}
	}
	if len(dns) == 0 && cfg.EmptyGroupMember != nil {
		dns = []string{*cfg.EmptyGroupMember}
	}
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", cfg.GroupObjectClasses)
	nameAttr := d.w.src.cfg.Groups.NameAttribute
	req.Attribute(nameAttr, []string{g.DisplayName})
	if len(dns) > 0 {
		req.Attribute(cfg.GroupMemberAttribute, dns)
	}
	if d.w.ad {
		req.Attribute("sAMAccountName", []string{g.DisplayName})
	}
	d.res.linkType, d.res.linkID = "Group", g.ID
	d.res.link = &store.Source{Name: d.name(), DN: dn}
	d.add("add "+dn+" "+describeAttrs(req.Attributes), func(ctx context.Context, conn *ldap.Conn) error {
		return d.addEntry(ctx, conn, req, nameAttr, g.ID, "Group")
	})
	return nil
}

// planGroupUpdate renames a group's entry (modrdn) when its RDN changed.
func (d *delivery) planGroupUpdate(before, after *store.Group, link store.Source) error {
	if after == nil || before == nil {
		return nil
	}
	oldRDN, _ := d.groupRDN(before)
	newRDN, err := d.groupRDN(after)
	if err != nil {
		return err
	}
	nameAttr := d.w.src.cfg.Groups.NameAttribute
	rdnAttr, _, _ := strings.Cut(newRDN, "=")
	if oldRDN != newRDN && !strings.EqualFold(firstRDN(link.DN), newRDN) {
		d.planRename("Group", after.ID, link, newRDN)
	}
	if before.DisplayName != after.DisplayName && !strings.EqualFold(rdnAttr, nameAttr) {
		d.add("modify "+link.DN+" replace "+nameAttr+": "+after.DisplayName, func(ctx context.Context, conn *ldap.Conn) error {
			return d.onEntry(ctx, conn, d.linkNow("Group", after.ID, link), func(dn string) error {
				m := ldap.NewModifyRequest(dn, nil)
				m.Replace(nameAttr, []string{after.DisplayName})
				return conn.Modify(m)
			})
		})
	}
	return nil
}

// planMembers adds or removes the members of a run of membership changes
// of one group, in one modify.
func (d *delivery) planMembers(ctx context.Context, group store.Source) error {
	add := d.res.entries[0].Action == "group.members.add"
	var dns []string
	for _, e := range d.res.entries {
		m := e.Member
		if m == nil {
			continue
		}
		link, err := d.p.currentLink(ctx, string(m.Type), m.ID, m.Source)
		if err != nil {
			return err
		}
		switch {
		case link.Name == d.name() && link.DN != "":
			dns = append(dns, link.DN)
		case !add:
			// Never in this directory: nothing to remove.
		case link.Name == "" && d.p.o.creator == d.w:
			return fmt.Errorf("member %s %s is not in the directory yet", strings.ToLower(string(m.Type)), m.Name)
		}
	}
	if len(dns) == 0 {
		d.res.d.Note = "no member of this directory"
		return nil
	}
	gid := d.res.entries[0].ResourceID
	attr := d.w.cfg.GroupMemberAttribute
	verb := "add"
	if !add {
		verb = "delete"
	}
	d.add(fmt.Sprintf("modify %s %s %s: %s", group.DN, verb, attr, strings.Join(dns, "; ")), func(ctx context.Context, conn *ldap.Conn) error {
		return d.onEntry(ctx, conn, d.linkNow("Group", gid, group), func(dn string) error {
			if add {
				return d.addMembers(conn, dn, dns)
			}
			return d.removeMembers(conn, dn, dns)
		})
	})
	return nil
}

// addMembers adds member values; values already there are done, so a
// repeat is safe.
func (d *delivery) addMembers(conn *ldap.Conn, group string, dns []string) error {
	attr := d.w.cfg.GroupMemberAttribute
	m := ldap.NewModifyRequest(group, nil)
	m.Add(attr, dns)
	err := conn.Modify(m)
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
		return err
	}
	if len(dns) == 1 {
		return nil
	}
	// One of them is there already: the rest one by one.
	for _, dn := range dns {
		if err := d.addMembers(conn, group, []string{dn}); err != nil {
			return err
		}
	}
	return nil
}

// removeMembers removes member values; values already gone are done. The
// last member of a group whose object class requires one is replaced by
// empty_group_member.
func (d *delivery) removeMembers(conn *ldap.Conn, group string, dns []string) error {
	attr := d.w.cfg.GroupMemberAttribute
	m := ldap.NewModifyRequest(group, nil)
	m.Delete(attr, dns)
	err := conn.Modify(m)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute):
		if len(dns) == 1 {
			return nil
		}
		for _, dn := range dns {
			if err := d.removeMembers(conn, group, []string{dn}); err != nil {
				return err
			}
		}
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultObjectClassViolation) && d.w.cfg.EmptyGroupMember != nil:
		m := ldap.NewModifyRequest(group, nil)
		m.Add(attr, []string{*d.w.cfg.EmptyGroupMember})
		m.Delete(attr, dns)
		return conn.Modify(m)
	}
	return err
}

// firstRDN is a DN's first RDN as written.
func firstRDN(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 {
		return dn
	}
	var parts []string
	for _, a := range parsed.RDNs[0].Attributes {
		parts = append(parts, a.Type+"="+ldap.EscapeDN(a.Value))
	}
	return strings.Join(parts, "+")
}

// parentDN is a DN without its first RDN.
func parentDN(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) < 2 {
		return ""
	}
	var parts []string
	for _, rdn := range parsed.RDNs[1:] {
		var avas []string
		for _, a := range rdn.Attributes {
			avas = append(avas, a.Type+"="+ldap.EscapeDN(a.Value))
		}
		parts = append(parts, strings.Join(avas, "+"))
	}
	return strings.Join(parts, ",")
}

func getFold(m map[string][]string, k string) []string {
	for key, v := range m {
		if strings.EqualFold(key, k) {
			return v
		}
	}
	return nil
}

func setFold(m map[string][]string, k string, v []string) {
	for key := range m {
		if strings.EqualFold(key, k) {
			m[key] = v
			return
		}
	}
	m[k] = v
}

// ensureValue makes sure vs holds v (the RDN's value must be one of its
// attribute's values).
func ensureValue(vs []string, v string) []string {
	if slices.ContainsFunc(vs, func(x string) bool { return strings.EqualFold(x, v) }) {
		return vs
	}
	return append([]string{v}, vs...)
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// describeAttrs renders an add's attributes for people: attr=[v; v].
func describeAttrs(as []ldap.Attribute) string {
	parts := make([]string, len(as))
	for i, a := range as {
		vals := a.Vals
		if strings.EqualFold(a.Type, "unicodePwd") || strings.EqualFold(a.Type, "userPassword") {
			vals = []string{"[redacted]"}
		}
		parts[i] = a.Type + "=[" + strings.Join(vals, "; ") + "]"
	}
	return strings.Join(parts, " ")
}

// describeChanges renders a modify's changes: replace attr: v; v.
func describeChanges(cs []ldap.Change) string {
	var parts []string
	for _, c := range cs {
		op := map[uint]string{ldap.AddAttribute: "add", ldap.DeleteAttribute: "delete", ldap.ReplaceAttribute: "replace"}[c.Operation]
		vals := strings.Join(c.Modification.Vals, "; ")
		if len(c.Modification.Vals) == 0 {
			vals = "(none)"
		}
		parts = append(parts, op+" "+c.Modification.Type+": "+vals)
	}
	return strings.Join(parts, ", ")
}

package ldapsync

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/ldapsync/adtest"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// Write-back to a real Active Directory: a Samba AD DC (ldapsync/adtest).
// What slapd with the AD mini schema cannot show, this does: the DC
// assigns the objectGUID the user is linked by, takes unicodePwd (over
// LDAPS) as the account's password (a bind with it succeeds), refuses a
// password its policy rejects, honours ACCOUNTDISABLE at bind time, and
// the inbound sync reads the written user back by objectGUID and
// uSNChanged without a duplicate.
func TestWriteBackSambaAD(t *testing.T) {
	files := ldaptest.NewCA(t)
	srv := adtest.Start(t, *files)
	st := newStore(t)
	cfg := SourceConfig{
		Name: "corp", Preset: PresetActiveDirectory, URL: srv.LDAPSURL, CAFile: files.CAFile,
		BindDN: adtest.AdminDN, BindPassword: adtest.AdminPassword,
		Users: UserSearch{BaseDN: adtest.PeopleDN}, Groups: GroupSearch{BaseDN: adtest.GroupsDN},
		PageSize: 50, BatchSize: 20, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		WriteBack: WriteBack{Enabled: true, UserBase: adtest.PeopleDN, GroupBase: adtest.GroupsDN,
			PasswordKeyFile: keyFile(t), RetryMin: 1, RetryMax: 1},
	}
	s := newSyncer(t, st, cfg)
	admin := srv.Conn(t)
	read := func(dn string, attrs ...string) *ldap.Entry {
		t.Helper()
		res, err := admin.Search(entryRequest(dn, attrs...))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil
		}
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read %s: %v", dn, err)
		}
		return res.Entries[0]
	}
	bindErr := func(dn, password string) error {
		c, err := srv.Bind(dn, password)
		if err == nil {
			c.Close()
		}
		return err
	}

	// Created over the door: an AD user, created disabled, given its
	// password, enabled.
	const pw = "Gr33n!Lantern"
	hal := createUser(t, s, st, &store.User{UserName: "hal", DisplayName: "Hal Jordan", Active: true,
		Name: store.Name{GivenName: "Hal", FamilyName: "Jordan"}, Emails: []store.Value{{Value: "hal@example.com", Primary: true}},
		PasswordHash: "$argon2id$x", NewPassword: pw})
	ds, rep := deliver(t, s)
	if rep.Delivered != 1 || len(ds[0].Ops) != 3 || !strings.Contains(ds[0].Ops[1], "unicodePwd: [redacted]") {
		t.Fatalf("AD create: %+v %+v", rep, ds)
	}
	dn := "CN=Hal Jordan," + adtest.PeopleDN
	e := read(dn, "objectGUID", "objectClass", "sAMAccountName", "userAccountControl", "mail", "givenName", "sn", "displayName")
	if e == nil || e.GetAttributeValue("sAMAccountName") != "hal" || e.GetAttributeValue("mail") != "hal@example.com" ||
		e.GetAttributeValue("sn") != "Jordan" || !slices.Contains(e.GetAttributeValues("objectClass"), "user") {
		t.Fatalf("AD entry: %+v", e)
	}
	if uac := uacOf(t, e); uac&uacAccountDisable != 0 || uac&uacNormalAccount == 0 {
		t.Fatalf("userAccountControl = %#x, want NORMAL_ACCOUNT enabled", uac)
	}
	// Linked by the objectGUID the DC assigned.
	guid, err := guidString(e.GetRawAttributeValue("objectGUID"))
	if err != nil {
		t.Fatal(err)
	}
	linked := mustUser(t, st, "hal")
	if linked.Source.Name != "corp" || linked.Source.ID != guid || !strings.EqualFold(linked.Source.DN, dn) {
		t.Fatalf("link = %+v, want objectGUID %s", linked.Source, guid)
	}
	// AD took unicodePwd as the password.
	if err := bindErr(dn, pw); err != nil {
		t.Fatalf("bind as hal with the written password: %v", err)
	}
	if err := bindErr(dn, pw+"x"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind as hal with a wrong password: %v", err)
	}

	// The inbound sync finds the same user by objectGUID: no duplicate.
	if rep := syncOnce(t, s, RunOptions{}); rep.Failed != 0 || rep.Users.Created != 0 {
		t.Fatalf("inbound run: %s %+v", rep.Summary(), rep.Errors)
	}
	if u := mustUser(t, st, "hal"); u.ID != hal.ID || !u.Active || u.Source.ID != guid {
		t.Fatalf("hal after the inbound run: %+v", u)
	}

	// A new password replaces the old one.
	const pw2 = "Emer4ld!Knight"
	updateUser(t, s, st, hal.ID, func(u *store.User) { u.PasswordHash, u.NewPassword = "$argon2id$y", pw2 })
	if ds, rep := deliver(t, s); rep.Delivered != 1 {
		t.Fatalf("password change: %+v %+v", rep, ds)
	}
	if err := bindErr(dn, pw2); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	if err := bindErr(dn, pw); err == nil {
		t.Fatal("the old password still binds")
	}

	// Deactivation sets ACCOUNTDISABLE: the password no longer binds.
	updateUser(t, s, st, hal.ID, func(u *store.User) { u.Active = false })
	if _, rep := deliver(t, s); rep.Delivered != 1 {
		t.Fatalf("deactivation: %+v", rep)
	}
	if uac := uacOf(t, read(dn, "userAccountControl")); uac&uacAccountDisable == 0 || uac&uacNormalAccount == 0 {
		t.Fatalf("userAccountControl after deactivation = %#x", uac)
	}
	if err := bindErr(dn, pw2); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind as the disabled hal: %v", err)
	}
	if rep := syncOnce(t, s, RunOptions{}); rep.Failed != 0 || mustUser(t, st, "hal").Active {
		t.Fatalf("inbound run after the deactivation: %s %+v", rep.Summary(), rep.Errors)
	}

	// A delete removes the entry.
	door(t, s, st, func(tx store.Tx) error { return tx.DeleteUser(context.Background(), hal.ID) })
	ds, _ = deliver(t, s)
	if !slices.Contains(outcomes(ds), "user.delete:delivered") || read(dn) != nil {
		t.Fatalf("delete: %+v", ds)
	}

	// A password AD's policy refuses is reported, and the account it was
	// for stays disabled.
	createUser(t, s, st, &store.User{UserName: "ivy", Active: true, Name: store.Name{FamilyName: "Ivy"},
		PasswordHash: "$argon2id$x", NewPassword: "abc"})
	ds, rep = deliver(t, s)
	// 0000052D: AD's ERROR_PASSWORD_RESTRICTION.
	if rep.Dead != 1 || len(ds) != 1 || ds[0].Outcome != "dead" || !strings.Contains(ds[0].Error, "0000052D") {
		t.Fatalf("weak password: %+v %+v", rep, ds)
	}
	if e := read("CN=ivy,"+adtest.PeopleDN, "userAccountControl"); e == nil || uacOf(t, e)&uacAccountDisable == 0 {
		t.Fatalf("ivy after the refused password: %+v", e)
	}
}

func uacOf(t *testing.T, e *ldap.Entry) int64 {
	t.Helper()
	v, err := strconv.ParseInt(e.GetAttributeValue("userAccountControl"), 10, 64)
	if err != nil {
		t.Fatalf("userAccountControl of %s: %v", e.DN, err)
	}
	return v
}

package ldapsync

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// adUser is an entry as Active Directory shapes it, with a binary
// objectGUID whose bytes are 0x<n>0, 0x<n>1, … 0x<n>f.
func adUser(cn, sam string, uac, usn, n int, extra ...string) string {
	s := fmt.Sprintf(`dn: cn=%s,%s
objectClass: user
cn: %s
sn: %s
givenName: %s
displayName: %s
sAMAccountName: %s
userPrincipalName: %s@example.com
mail: %s@example.com
userAccountControl: %d
uSNChanged: %d
objectGUID:: %s
`, cn, ldaptest.PeopleDN, cn, cn, cn, cn, sam, sam, sam, uac, usn, guidBytes(n))
	for _, e := range extra {
		s += e + "\n"
	}
	return s + "\n"
}

func guidBytes(n int) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(n<<4 | i)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestActiveDirectoryAttributes(t *testing.T) {
	ldif := adUser("Alice Adams", "alice", 512, 100, 0, "department: Sales") +
		// Computers are users in AD; the preset filter leaves them out.
		strings.Replace(adUser("WS01", "ws01$", 4096, 99, 3), "objectClass: user", "objectClass: computer", 1) +
		adUser("Bob Brown", "bob", 514, 101, 1) + // ACCOUNTDISABLE
		fmt.Sprintf("dn: cn=Sales,%s\nobjectClass: group\ncn: Sales\nuSNChanged: 102\nobjectGUID:: %s\nmember: cn=Alice Adams,%s\nmember: cn=Bob Brown,%s\n\n",
			ldaptest.GroupsDN, guidBytes(2), ldaptest.PeopleDN, ldaptest.PeopleDN)
	srv := ldaptest.Start(t, ldaptest.Options{ADSchema: true, LDIF: ldif})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Preset = PresetActiveDirectory
	s := newSyncer(t, st, cfg)

	rep := syncOnce(t, s, RunOptions{})
	if rep.Users.Created != 2 || rep.Groups.Created != 1 || rep.Failed != 0 || rep.Watermark != "102" {
		t.Fatalf("first run: %s, watermark %q", rep.Summary(), rep.Watermark)
	}
	alice := mustUser(t, st, "alice")
	// objectGUID's first three fields are little-endian.
	if alice.Source.ID != "03020100-0504-0706-0809-0a0b0c0d0e0f" {
		t.Fatalf("alice's objectGUID decoded to %q", alice.Source.ID)
	}
	if !alice.Active || alice.DisplayName != "Alice Adams" || alice.PrimaryEmail() != "alice@example.com" ||
		alice.Enterprise == nil || alice.Enterprise.Department != "Sales" {
		t.Fatalf("alice mapped wrongly: %+v", alice)
	}
	bob := mustUser(t, st, "bob")
	if bob.Active {
		t.Fatal("userAccountControl 514 (ACCOUNTDISABLE) did not deactivate bob")
	}
	if got := memberNames(t, st, mustGroup(t, st, "Sales")); !slices.Equal(got, []string{"User:alice", "User:bob"}) {
		t.Fatalf("Sales members = %v", got)
	}

	// uSNChanged drives incremental runs: only entries above the watermark
	// are read. Enabling bob and renaming alice are updates of the same users.
	srv.Modify(t, `dn: cn=Bob Brown,`+ldaptest.PeopleDN+`
changetype: modify
replace: userAccountControl
userAccountControl: 512
-
replace: uSNChanged
uSNChanged: 200

dn: cn=Alice Adams,`+ldaptest.PeopleDN+`
changetype: modrdn
newrdn: cn=Alice Smith
deleteoldrdn: 0

dn: cn=Alice Smith,`+ldaptest.PeopleDN+`
changetype: modify
replace: uSNChanged
uSNChanged: 201
-
replace: displayName
displayName: Alice Smith
`)
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.ReadUsers != 2 || rep.ReadGroups != 0 || rep.Users.Updated != 2 || rep.Watermark != "201" {
		t.Fatalf("incremental run: %s, watermark %q", rep.Summary(), rep.Watermark)
	}
	if b := mustUser(t, st, "bob"); !b.Active || b.ID != bob.ID {
		t.Fatalf("bob after enabling: %+v", b)
	}
	if a := mustUser(t, st, "alice"); a.ID != alice.ID || a.DisplayName != "Alice Smith" || a.Source.DN != "cn=Alice Smith,"+ldaptest.PeopleDN {
		t.Fatalf("alice after rename: %+v %+v", a, a.Source)
	}
	rep = syncOnce(t, s, RunOptions{})
	if rep.ReadUsers != 0 {
		t.Fatalf("idle incremental run read %d users", rep.ReadUsers)
	}
}

func TestFlattenedNestedGroups(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "A", "A", "") + person("bob", "B", "B", "") + person("erin", "E", "E", "") +
		groupOfNames("dev", userDN("alice"), userDN("bob")) +
		groupOfNames("eng", groupDN("dev"), userDN("erin")) +
		groupOfNames("all", groupDN("eng")) +
		// A cycle must not loop forever.
		groupOfNames("loop1", groupDN("loop2"), userDN("alice")) + groupOfNames("loop2", groupDN("loop1"))})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Groups.Flatten = true
	s := newSyncer(t, st, cfg)
	syncOnce(t, s, RunOptions{})
	for group, want := range map[string][]string{
		"all":   {"User:alice", "User:bob", "User:erin"},
		"eng":   {"User:alice", "User:bob", "User:erin"},
		"dev":   {"User:alice", "User:bob"},
		"loop2": {"User:alice"},
	} {
		if got := memberNames(t, st, mustGroup(t, st, group)); !slices.Equal(got, want) {
			t.Errorf("%s members = %v, want %v", group, got, want)
		}
	}
	// A change to a nested group reaches its parents in the next
	// incremental run, because flattening re-reads every group.
	time.Sleep(10 * time.Millisecond)
	srv.Modify(t, "dn: "+groupDN("dev")+"\nchangetype: modify\ndelete: member\nmember: "+userDN("bob")+"\n")
	rep := syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.MembershipChanges != 3 {
		t.Fatalf("incremental run: %s", rep.Summary())
	}
	if got := memberNames(t, st, mustGroup(t, st, "all")); !slices.Equal(got, []string{"User:alice", "User:erin"}) {
		t.Fatalf("all members after the change = %v", got)
	}
}

func TestMembershipFromMemberOf(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "A", "A", "") + person("bob", "B", "B", "")})
	// Added online, so the memberof overlay writes memberOf on the users.
	srv.Modify(t, "dn: "+groupDN("dev")+"\nchangetype: add\nobjectClass: groupOfNames\ncn: dev\nmember: "+userDN("alice")+"\nmember: "+userDN("bob")+
		"\n\ndn: "+groupDN("ops")+"\nchangetype: add\nobjectClass: groupOfNames\ncn: ops\nmember: "+userDN("bob")+"\n")
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Groups.MemberOf = "memberOf"
	s := newSyncer(t, st, cfg)
	syncOnce(t, s, RunOptions{})
	if got := memberNames(t, st, mustGroup(t, st, "dev")); !slices.Equal(got, []string{"User:alice", "User:bob"}) {
		t.Fatalf("dev members = %v", got)
	}
	if got := memberNames(t, st, mustGroup(t, st, "ops")); !slices.Equal(got, []string{"User:bob"}) {
		t.Fatalf("ops members = %v", got)
	}
	srv.Modify(t, "dn: "+groupDN("dev")+"\nchangetype: modify\ndelete: member\nmember: "+userDN("bob")+"\n")
	syncOnce(t, s, RunOptions{})
	if got := memberNames(t, st, mustGroup(t, st, "dev")); !slices.Equal(got, []string{"User:alice"}) {
		t.Fatalf("dev members after removing bob = %v", got)
	}
	if got := memberNames(t, st, mustGroup(t, st, "ops")); !slices.Equal(got, []string{"User:bob"}) {
		t.Fatalf("ops members after removing bob from dev = %v", got)
	}
}

// accountExpires (100-ns intervals since 1601; 0 and 0x7FFFFFFFFFFFFFFF
// mean never) makes an expired account inactive, although its
// userAccountControl says enabled; an account that expires between two
// runs is found by the next incremental run, although its entry did not
// change.
func TestADAccountExpires(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	past, soon := toFileTime(now.Add(-24*time.Hour)), toFileTime(now.Add(time.Hour))
	ldif := adUser("Old", "old", 512, 100, 1, fmt.Sprintf("accountExpires: %d", past)) +
		adUser("Never", "never", 512, 101, 2, "accountExpires: 0") +
		adUser("Max", "max", 512, 102, 3, "accountExpires: 9223372036854775807") +
		adUser("Soon", "soon", 512, 103, 4, fmt.Sprintf("accountExpires: %d", soon)) +
		adUser("Unset", "unset", 512, 104, 5)
	srv := ldaptest.Start(t, ldaptest.Options{ADSchema: true, LDIF: ldif})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Preset = PresetActiveDirectory
	s := newSyncer(t, st, cfg)
	s.now = func() time.Time { return now }
	rep := syncOnce(t, s, RunOptions{})
	if rep.Users.Created != 5 || rep.Failed != 0 {
		t.Fatalf("first run: %s %+v", rep.Summary(), rep.Errors)
	}
	for name, active := range map[string]bool{"old": false, "never": true, "max": true, "soon": true, "unset": true} {
		if got := mustUser(t, st, name).Active; got != active {
			t.Errorf("%s active = %v, want %v", name, got, active)
		}
	}
	now = now.Add(2 * time.Hour)
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.ReadUsers != 1 || rep.Users.Deactivated != 1 || mustUser(t, st, "soon").Active {
		t.Fatalf("incremental run after soon's expiry: %s", rep.Summary())
	}
}

func TestFileTime(t *testing.T) {
	for _, tc := range []struct {
		v    int64
		want time.Time
	}{
		{116444736000000000, time.Unix(0, 0).UTC()},
		{133000000000000000, time.Date(2022, 6, 18, 4, 26, 40, 0, time.UTC)},
	} {
		if got := fromFileTime(tc.v); !got.Equal(tc.want) {
			t.Errorf("fromFileTime(%d) = %s, want %s", tc.v, got, tc.want)
		}
		if got := toFileTime(tc.want); got != tc.v {
			t.Errorf("toFileTime(%s) = %d, want %d", tc.want, got, tc.v)
		}
	}
}

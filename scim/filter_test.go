package scim

import (
	"fmt"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

func TestParseFilter(t *testing.T) {
	cases := map[string]string{
		`userName eq "bjensen"`:                        `{userName eq bjensen}`,
		`UserName EQ "a\"b"`:                           `{UserName eq a"b}`,
		`title pr`:                                     `{title pr <nil>}`,
		`title pr and userType eq "Employee"`:          `{{title pr <nil>} {userType eq Employee}}`,
		`a eq 1 or b eq 2 and c eq 3`:                  `{{a eq 1} {{b eq 2} {c eq 3}}}`,
		`(a eq 1 or b eq 2) and c eq 3`:                `{{{a eq 1} {b eq 2}} {c eq 3}}`,
		`not (active eq true)`:                         `{{active eq true}}`,
		`active eq false`:                              `{active eq false}`,
		`x eq null`:                                    `{x eq <nil>}`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`:  `{meta.lastModified gt 2011-05-13T04:42:34Z}`,
		`emails[type eq "work" and value co "@x.com"]`: `{emails {{type eq work} {value co @x.com}}}`,
		`emails[type eq "work"].value eq "a@x.com"`:    `{emails {{type eq work} {value eq a@x.com}}}`,
		`name.familyName eq Employee`:                  `{name.familyName eq Employee}`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`: `{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 7}`,
		`members[value eq "2819c223"]`:      `{members {value eq 2819c223}}`,
		`userName sw "j" and not(title pr)`: `{{userName sw j} {{title pr <nil>}}}`,
		`n ge -1.5`:                         `{n ge -1.5}`,
	}
	for in, want := range cases {
		e, err := ParseFilter(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := fmt.Sprint(e); got != want {
			t.Errorf("%s:\n got %s\nwant %s", in, got, want)
		}
	}
	if e, _ := ParseFilter(`emails[type eq "work"].value eq "x"`); e.(store.ValueFilter).Attr != "emails" {
		t.Fatal("value path attribute lost")
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, in := range []string{
		``, `userName`, `userName eq`, `userName zz "x"`, `userName eq "x`, `(userName eq "x"`,
		`emails[type eq "work"`, `not userName eq "x"`, `userName eq "x" and`, `eq "x"`,
		`userName eq "x")`, `a eq "b" c`, `emails[type eq "w"].`, `a eq "\q"`,
	} {
		if _, err := ParseFilter(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	deep := ""
	for i := 0; i < 200; i++ {
		deep += "("
	}
	if _, err := ParseFilter(deep + `a eq 1`); err == nil {
		t.Error("deep nesting accepted")
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`userName eq "x"`, `emails[type eq "work"].value eq "y"`, `not (a pr) or b gt 3`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseFilter(s) // must not panic
	})
}

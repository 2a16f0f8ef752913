package store

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// The limits every backend enforces on every write, whatever the door, so
// that every door answers the same request the same way and a user written
// through one door can be read and written back through every other (README
// "Limits" lists them). Lengths in characters count Unicode code points, as
// the vendor APIs count them; MaxTextBytes counts bytes, as SCIM did.
const (
	// MaxUserNameLen is the longest userName, in characters. Identity
	// providers send far less: Okta logins are at most 100 characters,
	// Entra userPrincipalNames 113, e-mail addresses 254.
	MaxUserNameLen = 256
	// MaxNameLen is the longest name, display text or identifier (every
	// other string attribute of users and groups but those listed under
	// MaxTextBytes), in characters.
	MaxNameLen = 1024
	// MaxTextBytes is the longest value of the attributes that may carry
	// long text: profileUrl, photos, roles, entitlements and
	// x509Certificates values, addresses.formatted, manager.$ref; in bytes.
	MaxTextBytes = 64 << 10
	// MaxValues is the most entries a multi-valued attribute of a user
	// (emails, roles, entitlements…) may hold. Group members are not
	// limited.
	MaxValues = 1000
	// MaxUserBytes bounds a whole user: its attributes encoded as JSON (the
	// document encoding of User). Well under the default 1 MiB request
	// body, so a user read through any door can be sent back whole.
	MaxUserBytes = 256 << 10
)

// textRule is what one string attribute may hold.
type textRule struct {
	maxRunes int // 0: maxBytes applies instead
	maxBytes int
	// lines allows CR and LF (a formatted postal address).
	lines bool
	// identifier forbids every control and format character (userName).
	identifier bool
}

var (
	userNameRule = textRule{maxRunes: MaxUserNameLen, identifier: true}
	nameRule     = textRule{maxRunes: MaxNameLen}
	longRule     = textRule{maxBytes: MaxTextBytes}
	linesRule    = textRule{maxBytes: MaxTextBytes, lines: true}
)

// checkText reports the first rule s breaks as an Invalid error about field;
// what names the value in the message (field, or an entry of it).
func checkText(field, what, s string, rule textRule) error {
	if problem := textProblem(s, rule); problem != "" {
		return FieldErrorf(KindInvalid, field, "%s %s", what, problem)
	}
	return nil
}

// textProblem says what is wrong with s under rule ("is longer than…"), or
// "" when nothing is.
func textProblem(s string, rule textRule) string {
	if rule.maxBytes > 0 && len(s) > rule.maxBytes {
		return fmt.Sprintf("is longer than %d bytes", rule.maxBytes)
	}
	// A string of more bytes than 4 per allowed character is too long
	// whatever it holds: no need to read a megabyte to say so.
	if rule.maxRunes > 0 && len(s) > utf8.UTFMax*rule.maxRunes {
		return fmt.Sprintf("is longer than %d characters", rule.maxRunes)
	}
	n := 0
	for i, r := range s {
		n++
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return "is not valid UTF-8"
			}
		}
		if reason := disallowed(r, rule); reason != "" {
			return fmt.Sprintf("must not contain %s (U+%04X)", reason, r)
		}
	}
	if rule.maxRunes > 0 && n > rule.maxRunes {
		return fmt.Sprintf("is longer than %d characters", rule.maxRunes)
	}
	return ""
}

// disallowed says why r may not appear under rule, or "".
//
// Control characters (C0, DEL, C1) are never text: NUL ends strings in C
// clients, CR and LF split log lines and headers. TAB is tolerated in
// free text, CR and LF in multi-line text. A userName is an identifier
// shown to people and compared by machines, so it also refuses the
// invisible format characters (bidirectional overrides and isolates such as
// U+202E, zero-width spaces, the BOM) and the line separators, which make
// two different names look alike; ZWNJ and ZWJ stay, as some scripts need
// them (PRECIS allows them in context).
func disallowed(r rune, rule textRule) string {
	switch {
	case unicode.IsControl(r):
		if rule.identifier || !(r == '\t' || rule.lines && (r == '\n' || r == '\r')) {
			return "control characters"
		}
	case !rule.identifier:
	case r == 0x200C || r == 0x200D:
	case unicode.Is(unicode.Cf, r):
		return "invisible formatting characters"
	case r == 0x2028 || r == 0x2029:
		return "line separators"
	}
	return ""
}

// checkCount refuses a multi-valued attribute with too many entries.
func checkCount(field string, n int) error {
	if n > MaxValues {
		return FieldErrorf(KindInvalid, field, "%s has %d entries, more than %d", field, n, MaxValues)
	}
	return nil
}

// checkEntry checks sub-attribute sub of entry i of a multi-valued
// attribute; the error names the entry (emails[2].value) and is about the
// sub-attribute (emails.value).
func checkEntry(field string, i int, sub, s string, rule textRule) error {
	if problem := textProblem(s, rule); problem != "" {
		return FieldErrorf(KindInvalid, field+"."+sub, "%s[%d].%s %s", field, i, sub, problem)
	}
	return nil
}

package store

// What must be unique among users, besides the id: the userName, compared
// by UserNameKey; the externalId, exactly; and, unless the operator's
// Policy says otherwise, every e-mail address. Backends enforce all three
// on every create and update, whichever door or sync writes, and report a
// conflict as a KindConflict error naming the attribute ("userName",
// "externalId", "emails"), which each door answers in its own words.

// Policy holds the identity rules an operator may choose. The zero value
// is the default.
type Policy struct {
	// SharedEmails lets several users hold the same e-mail address, for
	// directories whose people share mailboxes. By default an address
	// belongs to one user, whatever its type (work, home…).
	SharedEmails bool
}

// EmailsToCheck returns the e-mail values of u that the backend must find
// held by no other user before it stores u: none under SharedEmails, else
// those that old (nil for a create) did not hold, each once. A value the
// user already held is not checked again, so that users stored before the
// rule (or while SharedEmails was on) can still be changed, deactivated
// above all, without first being told apart.
//
// Addresses compare as the backends index them: ignoring the case of
// ASCII letters. That is how mail servers treat the domain and, in
// practice, the local part; a local part outside ASCII is compared as
// sent.
func (p Policy) EmailsToCheck(old, u *User) []string {
	if p.SharedEmails {
		return nil
	}
	held := map[string]bool{}
	if old != nil {
		for _, e := range old.Emails {
			held[EmailKey(e.Value)] = true
		}
	}
	var out []string
	for _, e := range u.Emails {
		k := EmailKey(e.Value)
		if e.Value == "" || held[k] {
			continue
		}
		held[k] = true
		out = append(out, e.Value)
	}
	return out
}

// EmailKey is the form in which e-mail addresses compare: ASCII letters
// in lower case, everything else as it is.
func EmailKey(email string) string {
	b := []byte(email)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// EmailConflict is the error for an e-mail address that another user
// holds. It names the address, which the client just sent, but not the
// other user.
func EmailConflict(email string) error {
	return FieldErrorf(KindConflict, "emails", "the e-mail address %s belongs to another user", email)
}

package ldapsync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Linking a directory entry to a local account hands that account, and
// every credential it holds, to whoever owns the entry. A local account
// that can already sign in (a password, an API key, a SCIM token, a
// session, a refresh token) may belong to someone else than the directory
// person who shares its userName or e-mail address, so it is never adopted
// silently: the entry is skipped and reported as a credential conflict
// (link_credentials: refuse, the default), or, when the operator chose
// link_credentials: revoke for the source, linked after every one of those
// credentials is revoked.

// Values of SourceConfig.LinkCredentials.
const (
	LinkCredentialsRefuse = "refuse"
	LinkCredentialsRevoke = "revoke"
)

// credentialConflict opens the reason of an entry skipped because the
// local account it would link holds credentials.
const credentialConflict = "credential conflict: "

// heldCredentials are the credentials one local account holds.
type heldCredentials struct {
	password bool
	ids      []int64
	kinds    map[string]int // what each credential is, for the report
}

func (h *heldCredentials) empty() bool { return !h.password && len(h.ids) == 0 }

// String names what is held: "a password, 1 API key (usersapi)".
func (h *heldCredentials) String() string {
	var parts []string
	if h.password {
		parts = append(parts, "a password")
	}
	for _, k := range slices.Sorted(maps.Keys(h.kinds)) {
		parts = append(parts, fmt.Sprintf("%d %s", h.kinds[k], k))
	}
	return strings.Join(parts, ", ")
}

// credentialsOf lists the unexpired credentials bound to each user key,
// read once per transaction: linking candidates are looked up in the
// transaction that links them, so what it reads is what the link sees.
func (a *applier) credentialsOf(ctx context.Context, tx store.Tx, key int64) ([]store.Credential, error) {
	if a.credTx != tx {
		all, err := tx.ListCredentials(ctx, "")
		if err != nil {
			return nil, err
		}
		now := time.Now()
		a.credTx, a.creds = tx, map[int64][]store.Credential{}
		for _, c := range all {
			if c.UserKey != 0 && (c.Expires.IsZero() || c.Expires.After(now)) {
				a.creds[c.UserKey] = append(a.creds[c.UserKey], c)
			}
		}
	}
	return a.creds[key], nil
}

// held says which credentials u holds.
func (a *applier) held(ctx context.Context, tx store.Tx, u *store.User) (*heldCredentials, error) {
	creds, err := a.credentialsOf(ctx, tx, u.Key)
	if err != nil {
		return nil, err
	}
	h := &heldCredentials{password: u.PasswordHash != "", kinds: map[string]int{}}
	for _, c := range creds {
		h.ids = append(h.ids, c.ID)
		h.kinds[credentialName(c.Kind)]++
	}
	return h, nil
}

// credentialName is how the report names a kind of credential.
func credentialName(kind string) string {
	door, name, ok := strings.Cut(kind, ":")
	switch {
	case kind == "scim-token":
		return "SCIM token"
	case ok && door == "apikey":
		return "API key (" + name + ")"
	case ok && door == "session":
		return "session (" + name + ")"
	case strings.Contains(kind, "refresh"):
		return "refresh token (" + kind + ")"
	}
	return kind
}

// adopt decides whether the unsynced user u, found by matched (what it
// shares with the entry: `userName "alice"`, `e-mail "a@x"`), may be
// linked. It returns what the change's detail adds ("" for nothing), or an
// entry error when the account holds credentials and the source does not
// revoke them.
func (a *applier) adopt(ctx context.Context, tx store.Tx, u *store.User, matched string) (string, error) {
	h, err := a.held(ctx, tx, u)
	if err != nil || h.empty() {
		return "", err
	}
	if a.src.cfg.LinkCredentials != LinkCredentialsRevoke {
		return "", &entryError{fmt.Errorf("%slocal user %s (same %s) holds %s; not linking it to the directory entry "+
			"(revoke them, or set link_credentials: revoke for this source)", credentialConflict, u.UserName, matched, h)}
	}
	for _, id := range h.ids {
		if err := tx.DeleteCredential(ctx, id); err != nil {
			return "", err
		}
	}
	if h.password {
		if _, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error {
			u.PasswordHash = ""
			return nil
		}); err != nil {
			return "", err
		}
	}
	delete(a.creds, u.Key)
	return "; its credentials were revoked: " + h.String(), nil
}

package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

// requestError is something wrong with what the operator asked for, with
// the status the JSON API and the console both answer it with. Any other
// error is internal.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(msg string) error { return &requestError{http.StatusBadRequest, msg} }
func notFound(msg string) error   { return &requestError{http.StatusNotFound, msg} }

// asRequestError returns err's requestError, or nil for an internal error.
func asRequestError(err error) *requestError {
	var re *requestError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// activityQuery reads the activity log filters both the JSON API and the
// console take: user (a userName or SCIM id), door, action, resource,
// since and until (in one of layouts; RFC 3339 when none is given), offset
// and limit (1 to 1000, defaultLimit when absent).
//
// gone reports that user names no user that exists now: the query then
// asks for the history of a deleted user by its SCIM id.
func (a *API) activityQuery(ctx context.Context, q url.Values, defaultLimit int, layouts ...string) (aq store.ActivityQuery, gone bool, err error) {
	aq = store.ActivityQuery{Door: q.Get("door"), Action: q.Get("action"), ResourceID: q.Get("resource")}
	if u := q.Get("user"); u != "" {
		user, err := a.findUser(ctx, u)
		switch {
		case err == nil:
			aq.UserID = user.ID
		case asRequestError(err) != nil:
			// The history of a deleted user stays under its SCIM id.
			aq.UserID, gone = u, true
		default:
			return aq, false, err
		}
	}
	if len(layouts) == 0 {
		layouts = []string{time.RFC3339}
	}
	for name, dst := range map[string]*time.Time{"since": &aq.Since, "until": &aq.Until} {
		if v := q.Get(name); v != "" {
			t, ok := parseTime(v, layouts)
			if !ok {
				return aq, false, badRequest(name + " must be an RFC 3339 time")
			}
			*dst = t
		}
	}
	var ok bool
	if aq.Offset, ok = intParam(q, "offset", 0); !ok || aq.Offset < 0 {
		return aq, false, badRequest("offset must be a non-negative integer")
	}
	if aq.Limit, ok = intParam(q, "limit", defaultLimit); !ok || aq.Limit < 1 || aq.Limit > 1000 {
		return aq, false, badRequest("limit must be between 1 and 1000")
	}
	return aq, gone, nil
}

// findUser finds a user by userName or, failing that, by SCIM id.
func (a *API) findUser(ctx context.Context, nameOrID string) (*store.User, error) {
	user, err := a.st.GetUserByUserName(ctx, nameOrID)
	if store.IsNotFound(err) {
		user, err = a.st.GetUser(ctx, nameOrID)
	}
	if store.IsNotFound(err) {
		return nil, notFound("no user " + strconv.Quote(nameOrID))
	}
	return user, err
}

func parseTime(v string, layouts []string) (time.Time, bool) {
	for _, l := range layouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func intParam(q url.Values, name string, def int) (int, bool) {
	s := q.Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// listCredentials lists the stored credentials of each kind, kind by kind.
func (a *API) listCredentials(ctx context.Context, kinds ...string) ([]store.Credential, error) {
	var out []store.Credential
	for _, k := range kinds {
		creds, err := a.st.ListCredentials(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, creds...)
	}
	return out, nil
}

// issueSCIMToken creates a SCIM token named name, bound to the user named
// userName for /Me unless it is empty, in the provisioning domain and
// compatibility mode of set (empty: the defaults). The token is returned
// here only.
func (a *API) issueSCIMToken(ctx context.Context, actor store.Actor, name, userName string, set auth.SCIMTokenSettings) (string, *store.Credential, error) {
	if strings.TrimSpace(name) == "" {
		return "", nil, badRequest("name is required")
	}
	var userKey int64
	if userName != "" {
		u, err := a.st.GetUserByUserName(ctx, userName)
		if err != nil {
			return "", nil, badRequest("no user " + strconv.Quote(userName))
		}
		userKey = u.Key
	}
	set.UserKey = userKey
	token, c, err := auth.IssueSCIMTokenWith(ctx, a.st, actor, name, set)
	if store.KindOf(err) == store.KindInvalid {
		return "", nil, badRequest(err.Error())
	}
	return token, c, err
}

// revocation says what is revoked: which credential kinds the id may
// name, how an unknown id is reported and what the activity log records.
type revocation struct {
	kinds    []string
	what     string // "SCIM token", "API key"
	action   string
	describe func(c store.Credential) string
}

// scimTokens is the revocation of a SCIM token.
func scimTokens() revocation {
	return revocation{kinds: []string{auth.SCIMTokenKind}, what: "SCIM token", action: "token.revoke",
		describe: func(c store.Credential) string { return "scim token " + strconv.FormatInt(c.ID, 10) }}
}

// apiKeys is the revocation of any dialect's API key.
func (a *API) apiKeys() revocation {
	return revocation{kinds: a.keyKinds(), what: "API key", action: "apikey.revoke",
		describe: func(c store.Credential) string {
			return strings.TrimPrefix(c.Kind, auth.KeyKind("")) + " key " + strconv.FormatInt(c.ID, 10)
		}}
}

// keyKinds are the credential kinds of the dialects' API keys.
func (a *API) keyKinds() []string {
	kinds := make([]string, len(a.dialects))
	for i, d := range a.dialects {
		kinds[i] = auth.KeyKind(d)
	}
	return kinds
}

// revoke deletes credential id if it is of one of rv's kinds, records it
// and makes the SCIM door forget its cached tokens, so that a revoked
// token stops working at once in this process.
func (a *API) revoke(ctx context.Context, actor store.Actor, rv revocation, id int64) error {
	creds, err := a.listCredentials(ctx, rv.kinds...)
	if err != nil {
		return err
	}
	var found *store.Credential
	for i := range creds {
		if creds[i].ID == id {
			found = &creds[i]
		}
	}
	if found == nil {
		return notFound("no " + rv.what + " " + strconv.FormatInt(id, 10))
	}
	err = a.st.Write(ctx, actor, func(tx store.Tx) error {
		if err := tx.DeleteCredential(ctx, id); err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: rv.action, ResourceType: "Token", UserKey: found.UserKey,
			Detail: rv.describe(*found)})
	})
	if err != nil {
		return err
	}
	if a.scim != nil {
		a.scim.Forget()
	}
	return nil
}

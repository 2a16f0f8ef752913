package auth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// RefreshTokens are a dialect's refresh tokens (OAuth 2.0 Security BCP,
// RFC 9700 §4.14.2): a login issues one with its access token; each is
// used once and replaced by a new one with a new access token (rotation);
// presenting a used one again ends the whole login (the thief's tokens and
// the owner's alike: one of them was stolen). A login ends Absolute after
// it happened, or when its refresh token is left unused for Idle, at
// logout, and with its user's password (store.EndsWithPassword).
//
// The tokens of one login form a chain: each stored refresh token names,
// by hash, the access token issued with it and its successor, and each
// access token the refresh token issued with it, so that ending a login
// follows the chain instead of searching.
type RefreshTokens struct {
	// Kind is the refresh tokens' credential kind ("refresh:usersapi"),
	// SessionKind the access tokens'.
	Kind, SessionKind string
	// Prefix starts every token ("uar_").
	Prefix string
	// Idle and Absolute are the login's lifetimes; 0 Idle is none, 0
	// Absolute DefaultAbsolute.
	Idle, Absolute time.Duration
}

// ErrRefreshReused is a refresh token presented after it was used: the
// dialect ends the login (EndReused) and refuses it.
var ErrRefreshReused = errors.New("refresh token used before")

// ActionRefreshReused is recorded when a used refresh token comes back.
const ActionRefreshReused = "login.refresh_reused"

type refreshData struct {
	Start  time.Time `json:"start"`            // the login's
	Used   bool      `json:"used,omitempty"`   // replaced: presenting it again is reuse
	Next   string    `json:"next,omitempty"`   // hash of its successor
	Access string    `json:"access,omitempty"` // hash of the access token issued with it
}

type accessData struct {
	Refresh string `json:"refresh"` // hash of the refresh token issued with it
}

func (rt *RefreshTokens) absolute() time.Duration {
	if rt.Absolute > 0 {
		return rt.Absolute
	}
	return DefaultAbsolute
}

func (rt *RefreshTokens) expiry(start, now time.Time) time.Time {
	return lifetimeEnd(start, now, rt.Idle, rt.absolute())
}

// Issue stores the first refresh token of a login whose access token is
// sess, inside the login's transaction, and returns it.
func (rt *RefreshTokens) Issue(ctx context.Context, tx store.Tx, sess *Session, now time.Time) (string, error) {
	return rt.issue(ctx, tx, sess, refreshData{Start: now}, now)
}

func (rt *RefreshTokens) issue(ctx context.Context, tx store.Tx, sess *Session, d refreshData, now time.Time) (string, error) {
	token := NewToken(rt.Prefix)
	hash := HashToken(token)
	d.Access, d.Used, d.Next = sess.Credential.SecretHash, false, ""
	data, _ := json.Marshal(d)
	err := tx.CreateCredential(ctx, &store.Credential{Kind: rt.Kind, Name: sess.User.UserName, UserKey: sess.User.Key,
		Identifier: token[:min(12, len(token))], SecretHash: hash, Data: string(data), Expires: rt.expiry(d.Start, now)})
	if err != nil {
		return "", err
	}
	access, _ := json.Marshal(accessData{Refresh: hash})
	sess.Credential.Data = string(access)
	return token, tx.UpdateCredential(ctx, sess.Credential)
}

// Refresh is a refresh token being used: its credential and its user.
type Refresh struct {
	cred *store.Credential
	data refreshData
	User *store.User
}

// Use finds a live refresh token and marks it used, inside tx. An unknown
// or expired one (or one whose user is gone) is NotFound; a used one
// ErrRefreshReused.
func (rt *RefreshTokens) Use(ctx context.Context, tx store.Tx, token string, now time.Time) (*store.User, *Refresh, error) {
	c, err := tx.FindCredential(ctx, rt.Kind, HashToken(token))
	if err != nil {
		return nil, nil, err
	}
	var d refreshData
	if json.Unmarshal([]byte(c.Data), &d) != nil || d.Start.IsZero() {
		d = refreshData{Start: c.Created} // issued before rotation: its login starts with it
	}
	if d.Used {
		return nil, nil, ErrRefreshReused
	}
	u, err := tx.GetUserByKey(ctx, c.UserKey)
	if err != nil {
		return nil, nil, err
	}
	return u, &Refresh{cred: c, data: d, User: u}, nil
}

// Rotate replaces the used refresh token with a new one issued with the
// access token sess, inside tx, and returns the new token. The used one is
// kept, marked, until its login would have ended, to recognise its reuse.
func (rt *RefreshTokens) Rotate(ctx context.Context, tx store.Tx, used *Refresh, sess *Session, now time.Time) (string, error) {
	next, err := rt.issue(ctx, tx, sess, refreshData{Start: used.data.Start}, now)
	if err != nil {
		return "", err
	}
	used.data.Used, used.data.Next = true, HashToken(next)
	data, _ := json.Marshal(used.data)
	used.cred.Data, used.cred.Expires = string(data), used.data.Start.Add(rt.absolute())
	return next, tx.UpdateCredential(ctx, used.cred)
}

// EndReused ends the login of a refresh token presented again after its
// use, and records it.
func (rt *RefreshTokens) EndReused(ctx context.Context, tx store.Tx, token string) error {
	c, err := tx.FindCredential(ctx, rt.Kind, HashToken(token))
	if store.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := rt.endChain(ctx, tx, c.SecretHash, true); err != nil {
		return err
	}
	return tx.Record(ctx, store.Activity{Action: ActionRefreshReused, ResourceType: "User", ResourceKey: c.UserKey,
		UserKey: c.UserKey, Detail: "a used refresh token was presented again: the login is ended"})
}

// EndLogin ends the login of an access token at its logout: the refresh
// token issued with it and every one after it. The access tokens issued
// with those refreshes live on to their (short) end, as any access token
// but the one logging out does.
func (rt *RefreshTokens) EndLogin(ctx context.Context, tx store.Tx, access *store.Credential) error {
	var d accessData
	if json.Unmarshal([]byte(access.Data), &d) != nil || d.Refresh == "" {
		return nil
	}
	return rt.endChain(ctx, tx, d.Refresh, false)
}

// Revoke ends the login of a refresh token that belongs to userKey (a
// logout that names it); another user's, or an unknown one, is ignored.
func (rt *RefreshTokens) Revoke(ctx context.Context, tx store.Tx, token string, userKey int64) error {
	c, err := tx.FindCredential(ctx, rt.Kind, HashToken(token))
	if store.IsNotFound(err) || (err == nil && c.UserKey != userKey) {
		return nil
	}
	if err != nil {
		return err
	}
	return rt.endChain(ctx, tx, c.SecretHash, false)
}

// endChain deletes the refresh token with the hash and its successors,
// and withAccess the access tokens issued with them.
func (rt *RefreshTokens) endChain(ctx context.Context, tx store.Tx, hash string, withAccess bool) error {
	for seen := 0; hash != "" && seen < 100000; seen++ {
		c, err := tx.FindCredential(ctx, rt.Kind, hash)
		if store.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		var d refreshData
		_ = json.Unmarshal([]byte(c.Data), &d) // a token without a chain ends alone
		if err := tx.DeleteCredential(ctx, c.ID); err != nil && !store.IsNotFound(err) {
			return err
		}
		if withAccess && d.Access != "" {
			a, err := tx.FindCredential(ctx, rt.SessionKind, d.Access)
			if err == nil {
				err = tx.DeleteCredential(ctx, a.ID)
			}
			if err != nil && !store.IsNotFound(err) {
				return err
			}
		}
		hash = d.Next
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/scimbridge/scimbridge/store"
)

const credentialCols = `id, kind, name, user_key, identifier, secret_hash, scopes, data, created, expires, last_used`

func scanCredential(s scanner) (*store.Credential, error) {
	var c store.Credential
	var scopes string
	var created, expires, lastUsed int64
	if err := s.Scan(&c.ID, &c.Kind, &c.Name, &c.UserKey, &c.Identifier, &c.SecretHash, &scopes, &c.Data,
		&created, &expires, &lastUsed); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, err
	}
	c.Created, c.Expires, c.LastUsed = fromMicros(created), fromMicros(expires), fromMicros(lastUsed)
	return &c, nil
}

// FindCredential looks a credential up by the hash of its secret.
func (r *reader) FindCredential(ctx context.Context, kind, secretHash string) (*store.Credential, error) {
	rows, done, err := r.query(lookup(ctx), `SELECT `+credentialCols+` FROM credentials WHERE kind = ? AND secret_hash = ?`, kind, secretHash)
	if err != nil {
		return nil, err
	}
	defer done()
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, store.Errorf(store.KindNotFound, "credential not found")
	}
	c, err := scanCredential(rows)
	if err != nil {
		return nil, err
	}
	if !c.Expires.IsZero() && !c.Expires.After(r.clock()) {
		return nil, store.Errorf(store.KindNotFound, "credential expired")
	}
	return c, nil
}

// ListCredentials lists the credentials of a kind ("" for all).
func (r *reader) ListCredentials(ctx context.Context, kind string) ([]store.Credential, error) {
	rows, done, err := r.query(ctx, `SELECT `+credentialCols+` FROM credentials WHERE ? = '' OR kind = ? ORDER BY id`, kind, kind)
	if err != nil {
		return nil, err
	}
	defer done()
	defer rows.Close()
	var out []store.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// CreateCredential stores a credential; c.SecretHash must be a hash.
func (t *txn) CreateCredential(ctx context.Context, c *store.Credential) error {
	if c.Kind == "" || len(c.SecretHash) != 64 {
		return store.Errorf(store.KindInvalid, "a credential needs a kind and a SHA-256 secret hash")
	}
	scopes, _ := json.Marshal(append([]string{}, c.Scopes...))
	c.Created = t.now
	err := t.queryRow(ctx, []any{&c.ID}, `INSERT INTO credentials (kind, name, user_key, identifier, secret_hash, scopes,
 data, created, expires, last_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Kind, c.Name, c.UserKey, c.Identifier, c.SecretHash, string(scopes), c.Data, micros(c.Created),
		micros(c.Expires), micros(c.LastUsed))
	return mapErr(err)
}

// UpdateCredential rewrites a credential's mutable fields.
func (t *txn) UpdateCredential(ctx context.Context, c *store.Credential) error {
	scopes, _ := json.Marshal(append([]string{}, c.Scopes...))
	res, err := t.exec(ctx, `UPDATE credentials SET name = ?, user_key = ?, identifier = ?, scopes = ?, data = ?,
 expires = ?, last_used = ? WHERE id = ?`, c.Name, c.UserKey, c.Identifier, string(scopes), c.Data,
		micros(c.Expires), micros(c.LastUsed), c.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.KindNotFound, "credential not found")
	}
	return nil
}

// DeleteCredential removes a credential.
func (t *txn) DeleteCredential(ctx context.Context, id int64) error {
	res, err := t.exec(ctx, `DELETE FROM credentials WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.KindNotFound, "credential not found")
	}
	return nil
}

// EndSessions deletes the user's sessions and refresh tokens but keep.
func (t *txn) EndSessions(ctx context.Context, userKey, keep int64) (int, error) {
	if userKey == 0 {
		return 0, nil
	}
	rows, done, err := t.query(ctx, `SELECT id, kind FROM credentials WHERE user_key = ?`, userKey)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		var kind string
		if err := rows.Scan(&id, &kind); err != nil {
			rows.Close()
			done()
			return 0, err
		}
		if id != keep && store.EndsWithPassword(kind) {
			ids = append(ids, id)
		}
	}
	err = rows.Err()
	rows.Close()
	done()
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := t.exec(ctx, `DELETE FROM credentials WHERE id = ?`, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// GetObject returns one stored object.
func (r *reader) GetObject(ctx context.Context, kind, name string) (*store.Object, error) {
	o := store.Object{Kind: kind, Name: name}
	var updated int64
	err := r.queryRow(lookup(ctx), []any{&o.Doc, &o.Version, &updated}, `SELECT doc, version, updated FROM objects WHERE kind = ? AND name = ?`, kind, name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf(store.KindNotFound, "%s %q not found", kind, name)
	}
	o.Updated = fromMicros(updated)
	return &o, err
}

// ListObjects returns the objects of a kind, by name.
func (r *reader) ListObjects(ctx context.Context, kind string) ([]store.Object, error) {
	rows, done, err := r.query(ctx, `SELECT name, doc, version, updated FROM objects WHERE kind = ? ORDER BY name`, kind)
	if err != nil {
		return nil, err
	}
	defer done()
	defer rows.Close()
	var out []store.Object
	for rows.Next() {
		o := store.Object{Kind: kind}
		var updated int64
		if err := rows.Scan(&o.Name, &o.Doc, &o.Version, &updated); err != nil {
			return nil, err
		}
		o.Updated = fromMicros(updated)
		out = append(out, o)
	}
	return out, rows.Err()
}

// PutObject creates or replaces an object, optionally only at a version.
func (t *txn) PutObject(ctx context.Context, o *store.Object, ifVersion int64) error {
	if o.Kind == "" || o.Name == "" {
		return store.Errorf(store.KindInvalid, "an object needs a kind and a name")
	}
	if !json.Valid(o.Doc) {
		return store.Errorf(store.KindInvalid, "object document is not JSON")
	}
	var current int64
	err := t.queryRow(ctx, []any{&current}, `SELECT version FROM objects WHERE kind = ? AND name = ?`, o.Kind, o.Name)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if ifVersion != 0 && current != ifVersion {
		return store.Errorf(store.KindPreconditionFailed, "%s %q changed meanwhile", o.Kind, o.Name)
	}
	o.Version, o.Updated = current+1, t.now
	_, err = t.exec(ctx, `INSERT INTO objects (kind, name, doc, version, updated) VALUES (?, ?, ?, ?, ?)
 ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc, version = excluded.version, updated = excluded.updated`,
		o.Kind, o.Name, string(o.Doc), o.Version, micros(o.Updated))
	return err
}

// DeleteObject removes an object.
func (t *txn) DeleteObject(ctx context.Context, kind, name string) error {
	res, err := t.exec(ctx, `DELETE FROM objects WHERE kind = ? AND name = ?`, kind, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.KindNotFound, "%s %q not found", kind, name)
	}
	return nil
}

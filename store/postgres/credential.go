package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store"
)

func itoa(n int) string { return strconv.Itoa(n) }

const credentialCols = `id, kind, name, user_key, identifier, secret_hash, scopes, data, created, expires, last_used`

func scanCredential(row pgx.Row) (*store.Credential, error) {
	var c store.Credential
	var created time.Time
	var expires, lastUsed *time.Time
	if err := row.Scan(&c.ID, &c.Kind, &c.Name, &c.UserKey, &c.Identifier, &c.SecretHash, &c.Scopes, &c.Data,
		&created, &expires, &lastUsed); err != nil {
		return nil, err
	}
	c.Created, c.Expires, c.LastUsed = created.UTC(), utc(expires), utc(lastUsed)
	return &c, nil
}

// FindCredential looks a credential up by the hash of its secret.
func (r *reader) FindCredential(ctx context.Context, kind, secretHash string) (*store.Credential, error) {
	notFound := store.Errorf(store.KindNotFound, "credential not found")
	if !storable(kind) || !storable(secretHash) {
		return nil, notFound
	}
	c, err := scanCredential(r.q.QueryRow(ctx, `SELECT `+credentialCols+` FROM credentials WHERE kind = $1 AND secret_hash = $2`, kind, secretHash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, mapErr(err)
	}
	if !c.Expires.IsZero() && !c.Expires.After(r.clock()) {
		return nil, store.Errorf(store.KindNotFound, "credential expired")
	}
	return c, nil
}

// ListCredentials lists the credentials of a kind ("" for all).
func (r *reader) ListCredentials(ctx context.Context, kind string) ([]store.Credential, error) {
	if !storable(kind) {
		return nil, nil
	}
	rows, err := r.query(ctx, `SELECT `+credentialCols+` FROM credentials WHERE $1 = '' OR kind = $1 ORDER BY id`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, mapErr(rows.Err())
}

// EndSessions deletes the user's sessions and refresh tokens but keep.
func (t *txn) EndSessions(ctx context.Context, userKey, keep int64) (int, error) {
	if userKey == 0 {
		return 0, nil
	}
	tag, err := t.pg.Exec(ctx, `DELETE FROM credentials WHERE user_key = $1 AND id <> $2
 AND (starts_with(kind, $3) OR starts_with(kind, $4))`, userKey, keep, store.SessionKindPrefix, store.RefreshKindPrefix)
	if err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}

// CreateCredential stores a credential; c.SecretHash must be a hash.
func (t *txn) CreateCredential(ctx context.Context, c *store.Credential) error {
	if c.Kind == "" || len(c.SecretHash) != 64 {
		return store.Errorf(store.KindInvalid, "a credential needs a kind and a SHA-256 secret hash")
	}
	c.Created = t.now
	return t.guarded(ctx, []any{&c.ID}, `INSERT INTO credentials (kind, name, user_key, identifier, secret_hash, scopes,
 data, created, expires, last_used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		c.Kind, c.Name, c.UserKey, c.Identifier, c.SecretHash, append([]string{}, c.Scopes...), c.Data, c.Created,
		nullTime(c.Expires), nullTime(c.LastUsed))
}

// UpdateCredential rewrites a credential's mutable fields.
func (t *txn) UpdateCredential(ctx context.Context, c *store.Credential) error {
	tag, err := t.exec(ctx, `UPDATE credentials SET name = $1, user_key = $2, identifier = $3, scopes = $4, data = $5,
 expires = $6, last_used = $7 WHERE id = $8`, c.Name, c.UserKey, c.Identifier, append([]string{}, c.Scopes...), c.Data,
		nullTime(c.Expires), nullTime(c.LastUsed), c.ID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.Errorf(store.KindNotFound, "credential not found")
	}
	return nil
}

// DeleteCredential removes a credential.
func (t *txn) DeleteCredential(ctx context.Context, id int64) error {
	tag, err := t.exec(ctx, `DELETE FROM credentials WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.Errorf(store.KindNotFound, "credential not found")
	}
	return nil
}

func objectNotFound(kind, name string) error {
	return store.Errorf(store.KindNotFound, "%s %q not found", kind, name)
}

// GetObject returns one stored object.
func (r *reader) GetObject(ctx context.Context, kind, name string) (*store.Object, error) {
	if !storable(kind) || !storable(name) {
		return nil, objectNotFound(kind, name)
	}
	o := store.Object{Kind: kind, Name: name}
	var updated time.Time
	err := r.queryRow(ctx, []any{&o.Doc, &o.Version, &updated}, `SELECT doc, version, updated FROM objects WHERE kind = $1 AND name = $2`, kind, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, objectNotFound(kind, name)
	}
	o.Updated = updated.UTC()
	return &o, err
}

// ListObjects returns the objects of a kind, by name.
func (r *reader) ListObjects(ctx context.Context, kind string) ([]store.Object, error) {
	if !storable(kind) {
		return nil, nil
	}
	rows, err := r.query(ctx, `SELECT name, doc, version, updated FROM objects WHERE kind = $1 ORDER BY name`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Object
	for rows.Next() {
		o := store.Object{Kind: kind}
		var updated time.Time
		if err := rows.Scan(&o.Name, &o.Doc, &o.Version, &updated); err != nil {
			return nil, err
		}
		o.Updated = updated.UTC()
		out = append(out, o)
	}
	return out, mapErr(rows.Err())
}

// PutObject creates or replaces an object, optionally only at a version.
// The stored row is locked first, so concurrent puts with ifVersion cannot
// both succeed.
func (t *txn) PutObject(ctx context.Context, o *store.Object, ifVersion int64) error {
	if o.Kind == "" || o.Name == "" {
		return store.Errorf(store.KindInvalid, "an object needs a kind and a name")
	}
	if !json.Valid(o.Doc) {
		return store.Errorf(store.KindInvalid, "object document is not JSON")
	}
	if ifVersion != 0 {
		var current int64
		err := t.queryRow(ctx, []any{&current}, `SELECT version FROM objects WHERE kind = $1 AND name = $2 FOR UPDATE`, o.Kind, o.Name)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if current != ifVersion {
			return store.Errorf(store.KindPreconditionFailed, "%s %q changed meanwhile", o.Kind, o.Name)
		}
	}
	o.Updated = t.now
	return t.queryRow(ctx, []any{&o.Version}, `INSERT INTO objects (kind, name, doc, version, updated) VALUES ($1, $2, $3, 1, $4)
 ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc, version = objects.version + 1, updated = excluded.updated
 RETURNING version`, o.Kind, o.Name, string(o.Doc), o.Updated)
}

// DeleteObject removes an object.
func (t *txn) DeleteObject(ctx context.Context, kind, name string) error {
	if !storable(kind) || !storable(name) {
		return objectNotFound(kind, name)
	}
	tag, err := t.exec(ctx, `DELETE FROM objects WHERE kind = $1 AND name = $2`, kind, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return objectNotFound(kind, name)
	}
	return nil
}

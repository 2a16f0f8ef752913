package ldapsync

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// A password a door receives in clear reaches the directory without ever
// resting in the store in clear: the door hands it on beside the hash
// (store.User.NewPassword), the store the doors write through seals it
// with AES-256-GCM under write_back.password_key_file and keeps only the
// sealed form, as an object in the same transaction as the change, and the
// delivery opens it, writes it and deletes it in the transaction that acks
// the change. The key lives in a file outside the store: a copy of the
// database alone reveals no password.

// PasswordKind is the store object kind of sealed passwords (name: the
// user's SCIM id). The newest password of a user replaces an older one
// not yet written.
const PasswordKind = "ldapsync.password"

// sealer seals and opens passwords with one key.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// decodeSealKey reads a 32-byte key given raw, as hex or as base64.
func decodeSealKey(b []byte) ([]byte, error) {
	if len(b) == 32 {
		return b, nil
	}
	text := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(text); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(text); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, errors.New("want a 32-byte key, raw or as 64 hex digits or base64 (e.g. openssl rand -hex 32)")
}

// sealedPassword is the stored form.
type sealedPassword struct {
	Sealed []byte    `json:"sealed"` // nonce || ciphertext
	At     time.Time `json:"at"`
}

// seal binds the password to its user (the id is the additional data), so
// a sealed password moved to another user does not open.
func (s *sealer) seal(userID string, password store.Secret) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return json.Marshal(sealedPassword{Sealed: s.aead.Seal(nonce, nonce, []byte(string(password)), []byte(userID)),
		At: time.Now().UTC()})
}

func (s *sealer) open(userID string, doc []byte) (store.Secret, error) {
	var sp sealedPassword
	if err := json.Unmarshal(doc, &sp); err != nil {
		return "", err
	}
	n := s.aead.NonceSize()
	if len(sp.Sealed) < n {
		return "", errors.New("sealed password too short")
	}
	plain, err := s.aead.Open(nil, sp.Sealed[:n], sp.Sealed[n:], []byte(userID))
	if err != nil {
		return "", fmt.Errorf("open sealed password (another key?): %w", err)
	}
	return store.Secret(plain), nil
}

// DoorStore returns the store the doors should write through when
// write-back is on (st itself otherwise): it seals the passwords doors
// hand on (store.User.NewPassword) for the directory that will hold the
// user, and wakes the delivery after each write, so a change reaches the
// directory without waiting for the next poll.
func (s *Syncer) DoorStore(st store.Store) store.Store {
	if s.out == nil {
		return st
	}
	return &doorStore{Store: st, out: s.out}
}

type doorStore struct {
	store.Store
	out *outbound
}

func (d *doorStore) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	err := d.Store.Write(ctx, actor, func(tx store.Tx) error { return fn(&doorTx{Tx: tx, out: d.out, actor: actor}) })
	if err == nil {
		d.out.wake()
	}
	return err
}

// doorTx takes the new password off every user a door writes: sealed
// when a write-back source will write it, dropped otherwise.
type doorTx struct {
	store.Tx
	out   *outbound
	actor store.Actor
}

func (t *doorTx) CreateUser(ctx context.Context, u *store.User) error {
	pw := u.NewPassword
	u.NewPassword = ""
	if err := t.Tx.CreateUser(ctx, u); err != nil {
		return err
	}
	return t.keep(ctx, u, pw)
}

func (t *doorTx) CreateUsers(ctx context.Context, users []*store.User) error {
	pws := make([]store.Secret, len(users))
	for i, u := range users {
		pws[i], u.NewPassword = u.NewPassword, ""
	}
	if err := t.Tx.CreateUsers(ctx, users); err != nil {
		return err
	}
	for i, u := range users {
		if err := t.keep(ctx, u, pws[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *doorTx) UpdateUser(ctx context.Context, id string, fn func(u *store.User) error) (*store.User, error) {
	var pw store.Secret
	u, err := t.Tx.UpdateUser(ctx, id, func(u *store.User) error {
		if err := fn(u); err != nil {
			return err
		}
		pw, u.NewPassword = u.NewPassword, ""
		return nil
	})
	if err != nil || pw == "" {
		return u, err
	}
	return u, t.keep(ctx, u, pw)
}

// keep seals pw for u when a write-back source will write u's password.
func (t *doorTx) keep(ctx context.Context, u *store.User, pw store.Secret) error {
	if pw == "" || t.out.seal == nil {
		return nil
	}
	w := t.out.sourceFor(u.Source, "User")
	if w == nil || !w.writes(t.actor) {
		return nil
	}
	doc, err := t.out.seal.seal(u.ID, pw)
	if err != nil {
		return err
	}
	return t.PutObject(ctx, &store.Object{Kind: PasswordKind, Name: u.ID, Doc: doc}, 0)
}

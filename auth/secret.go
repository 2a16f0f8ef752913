// Package auth holds every credential and its lifecycle, below the doors:
// password hashing (argon2id, in a bounded pool) and checking (by a bind
// for directory users), login sessions with lockout, API keys, SCIM and
// admin bearer tokens and the cache that serves them. Secrets are kept
// only as hashes: passwords get a slow, memory-hard argon2id hash;
// high-entropy tokens and API keys get SHA-256, which is enough for random
// secrets and fast on every request.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: the OWASP minimum (19 MiB, 2 passes, 1 lane) keeps a
// login at ~20 ms and bounds memory under concurrent logins.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// maxHashMemory is the most memory (KiB) a stored hash may ask CheckPassword
// for: the pool's bound assumes argon2id runs of about argonMemory.
const maxHashMemory = 4 * argonMemory

// HashPassword returns an argon2id hash of password in PHC string format.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	var key []byte
	if err := withSlot(context.Background(), func() {
		key = argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	}); err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformedHash is returned for a stored hash that cannot be parsed.
var ErrMalformedHash = errors.New("secret: malformed password hash")

// CheckPassword reports whether password matches the PHC-format hash. An
// empty hash (a user without a password) never matches.
func CheckPassword(hash, password string) (bool, error) {
	return checkPasswordCtx(context.Background(), hash, password)
}

// checkPasswordCtx is CheckPassword waiting for a hashing slot only as long
// as ctx lives.
func checkPasswordCtx(ctx context.Context, hash, password string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return false, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformedHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, ErrMalformedHash
	}
	if mem > maxHashMemory {
		return false, ErrMalformedHash // a stored hash must not make us allocate without bound
	}
	var got []byte
	if err := withSlot(ctx, func() {
		got = argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	}); err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewToken returns a random token of 32 bytes of entropy, URL-safe, with the
// given prefix (e.g. "scim_", "ptla_"); the prefix helps secret scanners.
func NewToken(prefix string) string {
	return prefix + RandomString(43)
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomString returns n characters drawn uniformly from [A-Za-z0-9].
func RandomString(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n+n/2+8)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		for _, b := range buf {
			// 62*4 = 248: reject the top bytes to keep the draw uniform.
			if b < 248 && i < n {
				out[i] = alphabet[b%62]
				i++
			}
		}
	}
	return string(out)
}

// HashToken returns the hex SHA-256 of a token, the form tokens are stored in.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Equal compares two strings in constant time (for their common length).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// RandomPasswordHash hashes a fresh random password nobody is told: for
// clients that create users without one (the vendors e-mail a reset link,
// scimbridge has no mail; an administrator resets it later).
func RandomPasswordHash() (string, error) {
	return HashPassword(RandomString(24))
}

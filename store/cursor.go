package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// What the backends' query builders share: the RFC 9865 cursor format and
// the reading of filter values. The SQL each renders stays in the backend.

// Cursor is the keyset position after the last row of a page: the row's
// key and its sort value (Null when it has none). Sig binds it to the
// query it came from (table, provisioning domain, sort, filter), so it
// cannot be replayed against another.
type Cursor struct {
	Key   int64  `json:"k"`
	Value any    `json:"v,omitempty"`
	Null  bool   `json:"n,omitempty"`
	Sig   string `json:"s"`
}

// EncodeCursor returns the opaque cursor after the row with key and sort
// value v of query q over table in domain.
func EncodeCursor(table, domain string, q Query, key int64, v any) string {
	c := Cursor{Key: key, Value: v, Null: v == nil, Sig: querySig(table, domain, q)}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads q.Cursor, refusing (KindInvalid, field "cursor") one
// that is malformed or belongs to another query.
func DecodeCursor(table, domain string, q Query) (*Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return nil, BadCursor()
	}
	var c Cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.Sig != querySig(table, domain, q) {
		return nil, BadCursor()
	}
	return &c, nil
}

// BadCursor is the error for a cursor that cannot be used.
func BadCursor() error {
	return FieldErrorf(KindInvalid, "cursor", "cursor is invalid or belongs to another query")
}

// querySig hashes what a cursor's position means something for. The domain
// is part of it: sorted by externalId, a position means nothing in another.
func querySig(table, domain string, q Query) string {
	s := fmt.Sprintf("%s|%s|%s|%t|%v", table, domain, strings.ToLower(q.SortBy), q.Descending, q.Filter)
	// FNV-1a, 64 bits.
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 36)
}

// FilterBool reads a filter value compared with a boolean attribute: true
// or false, as JSON or as a string in any case.
func FilterBool(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// ParseDateTime reads a filter value compared with a dateTime attribute:
// RFC 3339, or a date and time without zone (UTC), or a date.
func ParseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad dateTime %q", s)
}

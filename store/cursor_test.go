package store

import "testing"

// A cursor reads back as written for its own query and domain only.
func TestCursorBindsItsQuery(t *testing.T) {
	q := Query{SortBy: "externalId", UseCursor: true, Limit: 1}
	q.Cursor = EncodeCursor("users", "okta", q, 42, "x-1")
	c, err := DecodeCursor("users", "okta", q)
	if err != nil || c.Key != 42 || c.Value != "x-1" || c.Null {
		t.Fatalf("decoded %+v, %v", c, err)
	}
	other := q
	other.Descending = true
	for _, bad := range []struct {
		table, domain string
		q             Query
	}{{"users", "entra", q}, {"groups", "okta", q}, {"users", "okta", other}, {"users", "okta", Query{Cursor: "not base64!"}}} {
		if _, err := DecodeCursor(bad.table, bad.domain, bad.q); KindOf(err) != KindInvalid {
			t.Errorf("%s/%s %+v: %v, want invalid", bad.table, bad.domain, bad.q, err)
		}
	}
	q.Cursor = EncodeCursor("users", "okta", q, 7, nil)
	if c, err := DecodeCursor("users", "okta", q); err != nil || !c.Null {
		t.Fatalf("a row without a sort value: %+v %v", c, err)
	}
}

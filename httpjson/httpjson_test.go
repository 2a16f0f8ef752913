package httpjson

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	rec := httptest.NewRecorder()
	body, err := ReadBody(rec, httptest.NewRequest("POST", "/", strings.NewReader("12345")), 5)
	if err != nil || string(body) != "12345" {
		t.Fatalf("%q %v", body, err)
	}
	if _, err := ReadBody(rec, httptest.NewRequest("POST", "/", strings.NewReader("123456")), 5); err != ErrBodyTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
}

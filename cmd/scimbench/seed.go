package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// Seeding a million users over HTTP takes longer than the measurement;
// compare writes them directly instead: the same users scimbench's seeding
// POSTs (userBody), written through each server's own code.

// seedStore creates n users named prefix+index in the SQLite database at
// path (created if missing) through store.Tx.CreateUser, the call the SCIM
// door makes for POST /Users, in transactions of a thousand. A database of
// an earlier run (compare's --dir) keeps its users: those already there
// are skipped.
func seedStore(ctx context.Context, path, prefix string, n int) error {
	st, err := sqlite.Open(ctx, path, sqlite.Options{Create: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	name := func(i int) string { return fmt.Sprintf("%s%08d", prefix, i) }
	present := func(i int) (bool, error) {
		_, err := st.GetUserByUserName(ctx, name(i))
		if store.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}
	// Only a database that holds some of them already is searched user by
	// user; a new one is written straight through.
	resumed := false
	if n > 0 {
		all, err := present(n - 1)
		if err == nil && !all {
			resumed, err = present(0)
		}
		if err != nil || all {
			st.Close()
			return err
		}
	}
	for done := 0; done < n; {
		err := st.Write(ctx, store.Actor{Door: "scim", Principal: "scimbench"}, func(tx store.Tx) error {
			for i := done; i < min(done+1000, n); i++ {
				if resumed {
					ok, err := present(i)
					if err != nil {
						return err
					}
					if ok {
						continue
					}
				}
				name := name(i)
				u := &store.User{UserName: name, Active: true, Name: store.Name{GivenName: "Bench", FamilyName: name},
					Emails: []store.Value{{Value: name + "@bench.example", Type: "work", Primary: true}}}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			st.Close()
			return err
		}
		done = min(done+1000, n)
	}
	return st.Close()
}

// seedHandler POSTs n users to the reference's handler in this process.
func seedHandler(h http.Handler, prefix string, n int) error {
	for i := range n {
		req := httptest.NewRequest("POST", "/scim/v2/Users", strings.NewReader(string(userBody(fmt.Sprintf("%s%08d", prefix, i)))))
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			return fmt.Errorf("seed user %d: HTTP %d: %s", i, rec.Code, rec.Body)
		}
	}
	return nil
}

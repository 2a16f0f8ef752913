package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// TestWriterKeepsStatementsPrepared: the statements of a write stay
// prepared on the write connection after its transaction, and the next
// transaction reuses them instead of preparing its own.
func TestWriterKeepsStatementsPrepared(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	// The writer's statements belong to the writer goroutine: the test
	// reads them inside a write's fn, which runs there.
	prepared := 0
	create := func(i int) {
		t.Helper()
		name := fmt.Sprintf("kept-%d", i)
		err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
			err := tx.CreateUser(ctx, &store.User{UserName: name, Active: true, Emails: []store.Value{{Value: name + "@example.com"}}})
			prepared = len(db.wstmts.missed)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	create(1)
	if prepared == 0 {
		t.Fatal("the first create prepared nothing on its transaction")
	}
	create(2)
	first := map[string]*sql.Stmt{}
	if err := db.Write(ctx, store.Actor{Door: "test"}, func(store.Tx) error {
		maps.Copy(first, db.wstmts.kept)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(first) < 3 {
		t.Fatalf("%d statements kept after two creates, want the create's (insert, e-mail check, e-mails, activity)", len(first))
	}
	create(3)
	if prepared != 0 {
		t.Errorf("the third create prepared %d statements on its transaction", prepared)
	}
	if err := db.Write(ctx, store.Actor{Door: "test"}, func(store.Tx) error {
		if len(db.wstmts.kept) != len(first) {
			t.Errorf("%d statements kept after a third create, want the same %d", len(db.wstmts.kept), len(first))
		}
		for q, s := range first {
			if db.wstmts.kept[q] != s {
				t.Errorf("statement prepared again: %.60s", q)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

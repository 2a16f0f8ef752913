package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestClusterServesDatabases(t *testing.T) {
	c := Start(t)
	for range 2 {
		url := c.NewDatabase(t)
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		var one int
		if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1: %d %v", one, err)
		}
		conn.Close(context.Background())
	}
}

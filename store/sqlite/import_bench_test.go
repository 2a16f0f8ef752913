package sqlite

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/scimbridge/scimbridge/store"
)

// importUser is a user as the directory sync maps an inetOrgPerson entry.
func importUser(i int) *store.User {
	return &store.User{UserName: fmt.Sprintf("u%07d", i), Active: true, DisplayName: fmt.Sprintf("User %d", i),
		Name:       store.Name{GivenName: "User", FamilyName: fmt.Sprintf("N%d", i)},
		Emails:     []store.Value{{Value: fmt.Sprintf("u%07d@example.com", i), Type: "work", Primary: true}},
		Title:      "Engineer",
		Enterprise: &store.Enterprise{EmployeeNumber: strconv.Itoa(i)},
		Source:     store.Source{Name: "corp", ID: uuid.NewString(), DN: fmt.Sprintf("uid=u%07d,ou=people,dc=example,dc=com", i)}}
}

// importUsers is how many users the import benchmarks write:
// SCIMBRIDGE_IMPORT_USERS, else 100,000.
func importUsers(b *testing.B) int {
	if v := os.Getenv("SCIMBRIDGE_IMPORT_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("SCIMBRIDGE_IMPORT_USERS=%q: want a number of at least 1000", v)
		}
		return n
	}
	return 100_000
}

// BenchmarkImportCreateUser writes a directory import into an empty store
// the way the sync did before CreateUsers: CreateUser for each user, 1,000
// to a transaction.
//
//	go test -run '^$' -bench Import -benchtime 1x ./store/sqlite/
func BenchmarkImportCreateUser(b *testing.B) {
	benchImport(b, func(ctx context.Context, tx store.Tx, users []*store.User) error {
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkImportCreateUsers writes the same import with CreateUsers, a
// batch of 1,000 a transaction, as the sync does now.
func BenchmarkImportCreateUsers(b *testing.B) {
	benchImport(b, func(ctx context.Context, tx store.Tx, users []*store.User) error {
		return tx.CreateUsers(ctx, users)
	})
}

// benchImport writes importUsers users into an empty store, 1,000 a
// transaction, each batch through write.
func benchImport(b *testing.B, write func(ctx context.Context, tx store.Tx, users []*store.User) error) {
	n := importUsers(b)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		db := openTemp(b)
		b.StartTimer()
		for start := 0; start < n; start += 1000 {
			users := make([]*store.User, 0, 1000)
			for i := start; i < min(n, start+1000); i++ {
				users = append(users, importUser(i))
			}
			if err := db.Write(ctx, store.Actor{Door: "ldapsync", Principal: "corp"}, func(tx store.Tx) error {
				return write(ctx, tx, users)
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "users/s")
		db.Close()
		b.StartTimer()
	}
}

//go:build !unix

package sqlite

import "os"

// fileKey is empty where the system gives no file identity in a stat; the
// marker then cannot tell a database that lost its WAL from a restored one
// and lets both open.
func fileKey(os.FileInfo) string { return "" }

//go:build race

package main

// raceFlags builds the crash test's server like the test itself, so the
// build reuses the test's cached packages and the server runs under the
// race detector too.
var raceFlags = []string{"-race"}

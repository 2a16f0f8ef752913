//go:build !race

package main

// raceFlags: the test runs without the race detector, so does the server.
var raceFlags []string

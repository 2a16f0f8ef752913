#!/usr/bin/env bash
# Bounded fuzzing for CI: runs every `func FuzzXxx` in the repository for
# FUZZTIME each (default 10s), one target at a time. A crasher fails the run
# and is written to the package's testdata/fuzz/<FuzzName>/, where the next
# plain `go test` replays it. Usage: bash .ci/fuzz.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-${FUZZTIME:-10s}}"
parallel="${FUZZ_PARALLEL:-2}"

targets=$(git grep --untracked -h -o -E '^func Fuzz[A-Za-z0-9_]+\(' -- '*_test.go' | wc -l)
echo "== fuzz: $targets targets, $fuzztime each"
status=0
while IFS=: read -r file name; do
  pkg="./$(dirname "$file")"
  echo "-- $pkg $name"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$parallel" "$pkg"; then
    status=1
  fi
done < <(git grep --untracked -o -E '^func Fuzz[A-Za-z0-9_]+' -- '*_test.go' | sed 's/:func /:/')
exit $status

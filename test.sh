#!/usr/bin/env bash
# The project's test command (README): builds vigil once, runs every Go test
# (unit, differential against redis-server, e2e with real clients), then the
# fuzz targets for a few seconds each.
set -euo pipefail
cd "$(dirname "$0")"

go vet ./...
bin_dir="$(mktemp -d)"
trap 'rm -rf "$bin_dir"' EXIT
go build -o "$bin_dir/vigil" ./cmd/vigil
export VIGIL_BIN="$bin_dir/vigil"

# -p 2: the machine has two cores; tests start real servers.
go test -p 2 -count=1 -timeout 20m ./...

# Short fuzz runs of every parser (the seed corpora also run above).
FUZZTIME="${FUZZTIME:-5s}"
fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" >/dev/null; echo "fuzz $1 $2 ok"; }
fuzz ./internal/resp FuzzReader
fuzz ./internal/resp FuzzReplyReader
fuzz ./internal/config FuzzLoad
fuzz ./internal/rdb FuzzLoad
fuzz ./internal/rdb FuzzRestore

#!/usr/bin/env bash
# The project's test command (README): builds vigil once, then runs
#   1. go vet and every unit + differential test (packages in parallel),
#   2. the process-level e2e tests (real redis-server, redis-sentinel,
#      redis-cli, redis-benchmark, predis, go-redis),
#   3. the short chaos suite,
#   4. a few seconds of fuzzing per parser.
# Timing-sensitive suites (2, 3) run one package at a time so their
# failover measurements don't compete for the two cores.
set -euo pipefail
cd "$(dirname "$0")"

go vet ./...
bin_dir="$(mktemp -d)"
trap 'rm -rf "$bin_dir"' EXIT
go build -o "$bin_dir/vigil" ./cmd/vigil
export VIGIL_BIN="$bin_dir/vigil"

unit_pkgs=$(go list ./... | grep -v -e '/test/e2e$' -e '/test/chaos$')
go test -p 2 -count=1 -timeout 15m $unit_pkgs
go test -count=1 -timeout 20m ./test/e2e/
go test -count=1 -timeout 15m -short ./test/chaos/

FUZZTIME="${FUZZTIME:-5s}"
# A real finding is written to the package's testdata/fuzz ("Failing input
# written to ...") and fails the run. Without such a file the failure is the
# fuzzing engine itself (worker "hung or terminated unexpectedly", or
# "context deadline exceeded" when -fuzztime ends mid-input on a loaded
# 2-core machine): that is retried once.
fuzz() {
	local out; out=$(mktemp)
	if go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" >"$out" 2>&1; then
		echo "fuzz $1 $2: ok ($FUZZTIME)"; rm -f "$out"; return 0
	fi
	cat "$out"
	if ! grep -q "Failing input written to" "$out"; then
		echo "fuzz $1 $2: fuzzing engine failure without a crasher; retrying once"
		go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" && { echo "fuzz $1 $2: ok on retry"; rm -f "$out"; return 0; }
	fi
	rm -f "$out"; return 1
}
fuzz ./internal/resp FuzzReader
fuzz ./internal/resp FuzzReplyReader
fuzz ./internal/config FuzzLoad
fuzz ./internal/rdb FuzzLoad
fuzz ./internal/rdb FuzzRestore
fuzz ./internal/persist FuzzAOFLoad
fuzz ./internal/sentinel/core FuzzHelloAndInfo

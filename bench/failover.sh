#!/usr/bin/env bash
# Failover time, vigil vs Debian's redis-sentinel + redis-server.
#
# Runs test/e2e/failover_time_test.go: a writer that finds the master
# through the Sentinels (SENTINEL GET-MASTER-ADDR-BY-NAME after every error,
# SET k:i every 10 ms with a 200 ms timeout) measures the window without an
# acknowledged write after SIGKILL of the master. Topology per run: 1 master
# + 2 replicas + 3 sentinels (quorum 2), down-after 2000 ms,
# failover-timeout 10000 ms, fresh processes; vigil and redis runs are
# interleaved. Prints a table of the medians (ms).
#
# Environment:
#   RUNS         runs per kind for "kill master" (default 7)
#   LEADER_DEATH 1 = also the leader-crashes-after-election scenario (one run
#                per kind; redis-sentinel needs ~25 s for it). Default 1.
#   VIGIL_BIN    vigil binary (default: go build ./cmd/vigil)
set -euo pipefail

RUNS=${RUNS:-7}
LEADER_DEATH=${LEADER_DEATH:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in go redis-server redis-sentinel; do
	command -v "$tool" >/dev/null || { echo "failover.sh: $tool is required" >&2; exit 1; }
done
if [[ -z "${VIGIL_BIN:-}" ]]; then
	VIGIL_BIN=$work/vigil
	(cd "$root" && go build -o "$VIGIL_BIN" ./cmd/vigil)
fi
export VIGIL_BIN

run='^TestFailoverTime$'
[[ "$LEADER_DEATH" == 1 ]] && run='^TestFailoverTime(LeaderDeath)?$'
(cd "$root" && FAILOVER_RUNS=$RUNS go test ./test/e2e -run "$run" -count=1 -v -timeout 30m) >"$work/out" 2>&1 || {
	cat "$work/out" >&2
	exit 1
}

echo "Failover window (ms): SIGKILL of the master -> first write acknowledged by the new master"
echo "down-after 2000 ms, failover-timeout 10000 ms, 2 replicas, 3 sentinels, quorum 2"
echo
echo "| scenario | sentinels + data nodes | runs | median | min | max | all runs |"
echo "|---|---|---:|---:|---:|---:|---|"
grep -o 'FAILOVER|.*' "$work/out" | sed 's/^FAILOVER//'

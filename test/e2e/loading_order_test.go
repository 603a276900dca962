package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// TestLoadingErrorOrder: a replica loading a full sync from the socket
// answers a data command with -MASTERDOWN when replica-serve-stale-data is
// no (Redis's processCommand checks the master link before loading), and
// with -LOADING when it is yes. Run against vigil and redis-server alike.
func TestLoadingErrorOrder(t *testing.T) {
	for _, kind := range []string{"vigil", "redis"} {
		for _, stale := range []string{"no", "yes"} {
			t.Run(kind+"/serve-stale-"+stale, func(t *testing.T) {
				t.Parallel()
				if kind == "redis" {
					replNeedRedis(t)
				}
				m := replStart(t, kind, testutil.StartOptions{Args: []string{"--rdbcompression", "no"}})
				m.ok("DEBUG", "POPULATE", "20000", "pop", "500")
				px := newTCPProxy(t, m.p.Addr)
				r := replStart(t, kind, testutil.StartOptions{Args: []string{
					"--repl-diskless-load", "on-empty-db", "--replica-serve-stale-data", stale}})
				// ~10 MB at 2 MB/s: 5 s of transfer. (Redis answers clients only
				// every loading-process-events-interval-bytes, 2 MB, while it loads.)
				px.SetRate(2 << 20)
				r.replicaOf(px.Port)
				testutil.Eventually(t, 10*time.Second, "the snapshot transfer to start", func() bool {
					ri := r.info("replication")
					x, _ := strconv.ParseInt(ri["master_sync_read_bytes"], 10, 64)
					// Redis doesn't count read bytes when it loads from the
					// socket; it says loading:1 instead.
					return ri["master_sync_in_progress"] == "1" && (x > 64<<10 || r.info("persistence")["loading"] == "1")
				})
				v := r.do("GET", "x")
				inProgress := r.info("replication")["master_sync_in_progress"] == "1"
				if !inProgress {
					t.Fatalf("the transfer ended before the check (too fast)")
				}
				want := "LOADING"
				if stale == "no" {
					want = "MASTERDOWN"
				}
				if v.Type != '-' || !strings.HasPrefix(string(v.Str), want) {
					t.Fatalf("GET during the load: %q %q, want -%s...", v.Type, v.Str, want)
				}
				px.SetRate(0)
				replCaughtUp(t, 30*time.Second, m, r)
			})
		}
	}
}

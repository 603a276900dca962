package e2e

// Full synchronizations (internal/replication/fullsync.go): replicas that
// sync together share one snapshot (diskless with repl-diskless-sync-delay /
// -max-replicas, disk by attaching to the BGSAVE being written), the fan-out
// drops a failed replica without failing the others,
// client-output-buffer-limit replica caps the stream kept for a syncing
// replica, and repl-diskless-load disabled / swapdb / on-empty-db load the
// payload as Redis documents.
//
// Helpers (replStart, replicaArgs, replBackgroundWrites, replCaughtUp,
// replSameData, tcpProxy) are in replication_test.go and tcpproxy_test.go.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// replShowLogs prints the logs of nodes when REPL_SHOW_LOGS is set (to
// look at what a passing test did).
func replShowLogs(t *testing.T, nodes ...*rnode) {
	if os.Getenv("REPL_SHOW_LOGS") == "" {
		return
	}
	for _, n := range nodes {
		t.Logf("---- log of %s ----\n%s", n, n.p.ReadLog())
	}
}

// replLogCount counts lines of n's log containing s.
func replLogCount(n *rnode, s string) int {
	return strings.Count(n.p.ReadLog(), s)
}

// TestReplSharedSnapshotDiskless: two replicas that ask within
// repl-diskless-sync-delay (3 s) get one snapshot streamed to both (a vigil and,
// when installed, a redis-server replica), under a write load.
func TestReplSharedSnapshotDiskless(t *testing.T) {
	second := "vigil"
	if _, err := exec.LookPath("redis-server"); err == nil {
		second = "redis"
	}
	m := replStart(t, "vigil", testutil.StartOptions{Args: []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "3"}})
	m.ok("DEBUG", "POPULATE", "20000", "pop", "32")
	stop := replBackgroundWrites(t, m, 20)
	defer stop()
	a := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	b := replStart(t, second, testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	// Both wait for the delay, listed as wait_bgsave.
	testutil.Eventually(t, 5*time.Second, "two replicas waiting or syncing", func() bool {
		return m.info("replication")["connected_slaves"] == "2"
	})
	replCaughtUpOrFail(t, 20*time.Second, m, a, b)
	stop()
	replSynced(t, 10*time.Second, m, a, b)
	if n := replLogCount(m, "Starting BGSAVE for SYNC"); n != 1 {
		replLogs(t, m, a, b)
		t.Fatalf("master started %d snapshots for two replicas, want 1", n)
	}
	if n := replLogCount(m, "Delay next BGSAVE for diskless SYNC"); n < 1 {
		t.Fatalf("no diskless delay logged")
	}
	if n := m.infoInt("stats", "sync_full"); n != 2 {
		t.Fatalf("sync_full = %d, want 2", n)
	}
	replShowLogs(t, m, a, b)
}

// replCaughtUpOrFail is replCaughtUp with the links first required up.
func replCaughtUpOrFail(t *testing.T, d time.Duration, m *rnode, replicas ...*rnode) {
	t.Helper()
	testutil.Eventually(t, d, "replication links up", func() bool {
		for _, r := range replicas {
			if r.info("replication")["master_link_status"] != "up" {
				return false
			}
		}
		return true
	})
}

// TestReplDisklessMaxReplicas: with a long delay, the sync starts as soon as
// repl-diskless-sync-max-replicas replicas wait; one replica alone waits.
func TestReplDisklessMaxReplicas(t *testing.T) {
	m := replStart(t, "vigil", testutil.StartOptions{Args: []string{"--repl-diskless-sync-delay", "60", "--repl-diskless-sync-max-replicas", "2"}})
	m.ok("DEBUG", "POPULATE", "5000")
	a := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	testutil.Eventually(t, 5*time.Second, "the first replica to wait", func() bool {
		return strings.Contains(m.info("replication")["slave0"], "state=wait_bgsave")
	})
	time.Sleep(1500 * time.Millisecond)
	if st := a.info("replication")["master_link_status"]; st != "down" || replLogCount(m, "Starting BGSAVE") != 0 {
		replLogs(t, m, a)
		t.Fatalf("one replica of 2 started the sync: link %s", st)
	}
	start := time.Now()
	b := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	replCaughtUp(t, 20*time.Second, m, a, b)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("sync took %v", d)
	}
	replSameData(t, 5*time.Second, m, a)
	replSameData(t, 5*time.Second, m, b)
	if n := replLogCount(m, "Starting BGSAVE for SYNC with target: replicas sockets"); n != 1 {
		replLogs(t, m, a, b)
		t.Fatalf("%d snapshots, want 1", n)
	}
	replShowLogs(t, m, a, b)
}

// TestReplSharedSnapshotDisk: with disk-based sync, a replica that asks
// while the snapshot file for another is being written attaches to it:
// same file, same +FULLRESYNC offset, and the stream since the snapshot.
func TestReplSharedSnapshotDisk(t *testing.T) {
	m := replStart(t, "vigil", testutil.StartOptions{Args: []string{"--repl-diskless-sync", "no"}})
	m.ok("DEBUG", "POPULATE", "300000", "pop", "64")
	// The replicas' handshakes go through paused proxies released together,
	// so both PSYNCs arrive while the file is written.
	pa, pb := newTCPProxy(t, m.p.Addr), newTCPProxy(t, m.p.Addr)
	pa.Pause()
	pb.Pause()
	a := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(pa.Port)})
	b := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(pb.Port)})
	stop := replBackgroundWrites(t, m, 20)
	defer stop()
	time.Sleep(200 * time.Millisecond)
	pa.Resume()
	pb.Resume()
	replCaughtUpOrFail(t, 30*time.Second, m, a, b)
	stop()
	replSynced(t, 10*time.Second, m, a, b)
	if n := replLogCount(m, "Starting BGSAVE for SYNC with target: disk"); n != 1 {
		replLogs(t, m, a, b)
		t.Fatalf("%d snapshots for two replicas, want 1", n)
	}
	if replLogCount(m, "Waiting for end of BGSAVE for SYNC") != 1 {
		replLogs(t, m)
		t.Fatalf("the second replica did not attach")
	}
	// Same history and offset on both (one +FULLRESYNC offset).
	if a.info("replication")["master_replid"] != b.info("replication")["master_replid"] {
		t.Fatalf("replids differ")
	}
	replShowLogs(t, m, a, b)
}

// TestReplFanoutDropsFailedReplica: two replicas share a diskless transfer
// of a snapshot larger than the socket buffers; the link of one stalls and
// is then cut mid-transfer: the other completes from the same snapshot, the
// cut one retries with a new one.
func TestReplFanoutDropsFailedReplica(t *testing.T) {
	// Uncompressed: ~40 MB, far more than the socket buffers hold.
	m := replStart(t, "vigil", testutil.StartOptions{Args: []string{"--repl-diskless-sync-delay", "3", "--rdbcompression", "no"}})
	m.ok("DEBUG", "POPULATE", "300000", "pop", "100")
	px := newTCPProxy(t, m.p.Addr)
	a := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	b := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(px.Port)})
	testutil.Eventually(t, 5*time.Second, "both replicas waiting", func() bool {
		return replLogCount(m, "Full resync requested by replica") == 2
	})
	px.Pause()
	testutil.Eventually(t, 10*time.Second, "the transfer to start", func() bool {
		x, _ := strconv.ParseInt(a.info("replication")["master_sync_read_bytes"], 10, 64)
		return x > 0
	})
	time.Sleep(500 * time.Millisecond)
	if a.info("replication")["master_link_status"] == "up" {
		t.Fatalf("the transfer to A ended while B stalled (snapshot too small for the socket buffers?)")
	}
	px.Cut()
	px.Resume()
	replSynced(t, 30*time.Second, m, a, b)
	if n := replLogCount(m, fmt.Sprintf("Synchronization with replica 127.0.0.1:%d succeeded", a.p.Port)); n != 1 {
		replLogs(t, m, a, b)
		t.Fatalf("replica A synced %d times, want 1", n)
	}
	if n := replLogCount(m, "Starting BGSAVE for SYNC"); n != 2 {
		replLogs(t, m, a, b)
		t.Fatalf("%d snapshots, want 2 (shared one, then B's retry)", n)
	}
	if replLogCount(m, fmt.Sprintf("Diskless rdb transfer to replica 127.0.0.1:%d failed", b.p.Port)) != 1 {
		replLogs(t, m)
		t.Fatalf("B's failure not logged")
	}
	replShowLogs(t, m, a, b)
}

// TestReplOutputBufferLimitDuringSync: the stream kept for a replica while
// its snapshot is sent counts against client-output-buffer-limit replica;
// past it the replica is disconnected at once (Redis's message), not when
// the transfer ends, and it retries.
func TestReplOutputBufferLimitDuringSync(t *testing.T) {
	for _, c := range []struct{ name, limit string }{
		{"hard", "replica 256kb 0 0"},
		{"soft", "replica 0 128kb 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// ~10 MB uncompressed: more than the socket buffers hold, so a
			// stalled link stalls the transfer.
			// A 2 s delay lets the test stall the link before the transfer.
			m := replStart(t, "vigil", testutil.StartOptions{Args: []string{"--rdbcompression", "no", "--repl-diskless-sync-delay", "2"}})
			m.ok("CONFIG", "SET", "client-output-buffer-limit", c.limit)
			m.ok("DEBUG", "POPULATE", "60000", "pop", "150")
			px := newTCPProxy(t, m.p.Addr)
			stop := replBackgroundWrites(t, m, 200)
			defer stop()
			r := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(px.Port)})
			testutil.Eventually(t, 10*time.Second, "the full sync to start", func() bool {
				return replLogCount(m, "asks for synchronization") > 0
			})
			px.Pause()
			testutil.Eventually(t, 20*time.Second, "the replica to be closed for its output buffer", func() bool {
				return replLogCount(m, "scheduled to be closed ASAP for overcoming of output buffer limits.") > 0
			})
			if n := replLogCount(m, "Synchronization with replica"); n != 0 {
				replLogs(t, m)
				t.Fatalf("closed only after the transfer ended")
			}
			stop()
			m.ok("CONFIG", "SET", "client-output-buffer-limit", "replica 0 0 0")
			px.Resume()
			px.Cut()
			// It retries and syncs.
			replSynced(t, 30*time.Second, m, r)
			if n := m.infoInt("stats", "sync_full"); n < 2 {
				t.Fatalf("sync_full = %d, want a retry", n)
			}
			replShowLogs(t, m, r)
		})
	}
}

// replLoadSetup starts a master with a 2.6 MB snapshot behind a proxy (the
// tests throttle it to 1 MB/s: ~2.5 s transfers) and a replica with
// repl-diskless-load mode.
func replLoadSetup(t *testing.T, mode string) (m, r *rnode, px *tcpProxy) {
	m = replStart(t, "vigil", testutil.StartOptions{Args: []string{"--repl-backlog-size", "16kb", "--rdbcompression", "no"}})
	m.ok("DEBUG", "POPULATE", "20000", "pop", "100")
	px = newTCPProxy(t, m.p.Addr)
	r = replStart(t, "vigil", testutil.StartOptions{Args: []string{"--repl-diskless-load", mode}})
	return m, r, px
}

// replDuringTransfer waits until r is receiving a snapshot, then runs fn.
func replDuringTransfer(t *testing.T, r *rnode, fn func()) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "the snapshot transfer to start", func() bool {
		ri := r.info("replication")
		x, _ := strconv.ParseInt(ri["master_sync_read_bytes"], 10, 64)
		return ri["master_sync_in_progress"] == "1" && x > 64<<10
	})
	fn()
	if r.info("replication")["master_sync_in_progress"] != "1" {
		t.Fatalf("the transfer ended before the checks did (too fast)")
	}
}

func tempRDBs(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "temp-*.rdb"))
	return m
}

func (n *rnode) isLoading(key string) bool {
	v := n.do("GET", key)
	return v.Type == '-' && strings.HasPrefix(string(v.Str), "LOADING")
}

// replLoadThroughFile: a replica with data (key "old") syncs with
// repl-diskless-load mode through a file: the payload goes to a temp file
// in its dir first while the old data is served, and it ends up identical
// to the master.
func replLoadThroughFile(t *testing.T, mode string) (m, r *rnode) {
	t.Helper()
	m, r, px := replLoadSetup(t, mode)
	r.ok("SET", "old", "1")
	px.SetRate(1 << 20)
	r.replicaOf(px.Port)
	replDuringTransfer(t, r, func() {
		if v := r.ok("GET", "old"); string(v.Str) != "1" {
			t.Fatalf("old data not served during the transfer: %v", v)
		}
		if len(tempRDBs(r.p.Dir)) != 1 {
			t.Fatalf("no temp RDB in %s during the transfer", r.p.Dir)
		}
	})
	replSynced(t, 20*time.Second, m, r)
	return m, r
}

// replLoadFromSocket: a replica (with data, key "old", when old is set)
// syncs with repl-diskless-load mode from the socket: no temp file, clients
// get -LOADING during the transfer, and it ends up identical to the master.
func replLoadFromSocket(t *testing.T, mode string, old bool) {
	t.Helper()
	m, r, px := replLoadSetup(t, mode)
	key := "x"
	if old {
		key = "old"
		r.ok("SET", key, "1")
	}
	px.SetRate(1 << 20)
	r.replicaOf(px.Port)
	replDuringTransfer(t, r, func() {
		if !r.isLoading(key) {
			t.Fatalf("GET during a %s load (old data: %v): %v", mode, old, r.do("GET", key))
		}
		if f := tempRDBs(r.p.Dir); len(f) != 0 {
			t.Fatalf("%s (old data: %v) wrote %v", mode, old, f)
		}
	})
	replSynced(t, 20*time.Second, m, r)
}

// TestReplDisklessLoad: repl-diskless-load through real syncs.
func TestReplDisklessLoad(t *testing.T) {
	// disabled: the payload goes to a temp file in dir first (old data
	// served meanwhile), then it becomes dbfilename and is loaded.
	t.Run("disabled", func(t *testing.T) {
		_, r := replLoadThroughFile(t, "disabled")
		if v := r.do("GET", "old"); !v.Null {
			t.Fatalf("old key survived a full sync: %v", v)
		}
		if _, err := os.Stat(filepath.Join(r.p.Dir, "dump.rdb")); err != nil {
			t.Fatalf("the synced RDB is not dbfilename: %v", err)
		}
		if f := tempRDBs(r.p.Dir); len(f) != 0 {
			t.Fatalf("temp files left: %v", f)
		}
	})
	// swapdb, new history: parsed from the socket (no file), the old
	// dataset kept aside, clients get -LOADING.
	t.Run("swapdb-new-history", func(t *testing.T) {
		replLoadFromSocket(t, "swapdb", true)
	})
	// swapdb, same history (a full resync after the backlog overflowed):
	// the old data is served while the new one loads.
	t.Run("swapdb-same-history", func(t *testing.T) {
		m, r, px := replLoadSetup(t, "swapdb")
		r.replicaOf(px.Port)
		replCaughtUp(t, 20*time.Second, m, r)
		m.ok("SET", "marker", "before")
		replCaughtUp(t, 10*time.Second, m, r)
		px.Pause()
		val := strings.Repeat("x", 1024)
		for i := 0; i < 40; i++ {
			m.ok("SET", fmt.Sprint("big", i), val)
		}
		m.ok("SET", "marker", "after")
		px.Cut()
		px.SetRate(1 << 20)
		px.Resume()
		replDuringTransfer(t, r, func() {
			if v := r.do("GET", "marker"); string(v.Str) != "before" {
				t.Fatalf("GET during a swapdb load of the same history: %v", v)
			}
		})
		replSynced(t, 20*time.Second, m, r)
		if m.infoInt("stats", "sync_full") != 2 {
			t.Fatalf("want a second full sync: %v", m.info("stats"))
		}
	})
	// on-empty-db: from the socket when empty (-LOADING, no file), through
	// a file when there is data.
	t.Run("on-empty-db-empty", func(t *testing.T) {
		replLoadFromSocket(t, "on-empty-db", false)
	})
	t.Run("on-empty-db-with-data", func(t *testing.T) {
		replLoadThroughFile(t, "on-empty-db")
	})
}

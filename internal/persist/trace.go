package persist

import (
	"os"
	"runtime/trace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// VIGIL_SNAPSHOT_TRACE=path records a runtime/trace from the start of the
// first BGSAVE or full sync (VIGIL_SYNC_TRACE, its older name, still works)
// for VIGIL_SNAPSHOT_TRACE_FOR (default 5s), for latency work on a server
// taking a snapshot: go tool trace path (or go tool trace -d=parsed path,
// a text dump to search). VIGIL_SNAPSHOT_TRACE_SKIP=n traces the (n+1)th
// snapshot instead, e.g. the one a benchmark takes after a warm-up save.
var snapshotTrace sync.Once

var traceSkipped atomic.Int64

// StartSnapshotTrace starts that trace if it is asked for and not taken yet.
func StartSnapshotTrace() {
	path := os.Getenv("VIGIL_SNAPSHOT_TRACE")
	if path == "" {
		path = os.Getenv("VIGIL_SYNC_TRACE")
	}
	if path == "" {
		return
	}
	if n, _ := strconv.Atoi(os.Getenv("VIGIL_SNAPSHOT_TRACE_SKIP")); traceSkipped.Add(1) <= int64(n) {
		return
	}
	snapshotTrace.Do(func() {
		f, err := os.Create(path)
		if err != nil {
			return
		}
		if trace.Start(f) != nil {
			f.Close()
			return
		}
		d := 5 * time.Second
		for _, k := range []string{"VIGIL_SNAPSHOT_TRACE_FOR", "VIGIL_SYNC_TRACE_FOR"} {
			if v, err := time.ParseDuration(os.Getenv(k)); err == nil {
				d = v
				break
			}
		}
		time.AfterFunc(d, func() {
			trace.Stop()
			f.Close()
		})
	})
}

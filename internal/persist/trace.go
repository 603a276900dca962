package persist

import (
	"os"
	"runtime/trace"
	"sync"
	"time"
)

// VIGIL_SNAPSHOT_TRACE=path records a runtime/trace from the start of the
// first BGSAVE or full sync (VIGIL_SYNC_TRACE, its older name, still works)
// for VIGIL_SNAPSHOT_TRACE_FOR (default 5s), for latency work on a server
// taking a snapshot: go tool trace path.
var snapshotTrace sync.Once

// StartSnapshotTrace starts that trace if it is asked for and not taken yet.
func StartSnapshotTrace() {
	path := os.Getenv("VIGIL_SNAPSHOT_TRACE")
	if path == "" {
		path = os.Getenv("VIGIL_SYNC_TRACE")
	}
	if path == "" {
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

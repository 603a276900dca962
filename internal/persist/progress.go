package persist

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-kv/vigil/internal/server"
)

// Progress of the RDB loads in flight, for INFO persistence (loading,
// async_loading and the loading_* fields Redis reports while loading).
//
// Every Load / LoadFile registers a loadRun for its duration and counts the
// bytes it reads. Loads started by this package for a server (start-up,
// DEBUG RELOAD) carry it as owner; a replica's full sync goes through Load
// without one, and is attributed to the server that is a replica (the
// registry is per process: two replicas in one process syncing at the same
// time would share their numbers, which only in-process tests can do).

type loadRun struct {
	owner   *server.Server // nil: not known (a replica's full sync through Load)
	replica bool
	start   int64 // unix seconds
	total   int64 // bytes to load, 0 if not known (a diskless sync with an EOF mark)
	loaded  atomic.Int64
	usedMem atomic.Int64 // the file's used-mem AUX field
}

var loads struct {
	mu   sync.Mutex
	runs []*loadRun
}

func beginLoad(owner *server.Server, replica bool, total int64) *loadRun {
	r := &loadRun{owner: owner, replica: replica, start: time.Now().Unix(), total: max(total, 0)}
	loads.mu.Lock()
	loads.runs = append(loads.runs, r)
	loads.mu.Unlock()
	return r
}

func (r *loadRun) end() {
	loads.mu.Lock()
	for i, x := range loads.runs {
		if x == r {
			loads.runs = append(loads.runs[:i], loads.runs[i+1:]...)
			break
		}
	}
	loads.mu.Unlock()
}

// aux records the AUX fields the progress report uses.
func (r *loadRun) aux(k, v string) {
	if k == "used-mem" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			r.usedMem.Store(n)
		}
	}
}

// loadFor returns the load in flight for s: one it owns, else (for a
// replica, or a server flagged as loading) one without an owner.
func loadFor(s *server.Server) *loadRun {
	loads.mu.Lock()
	defer loads.mu.Unlock()
	var anon *loadRun
	for _, r := range loads.runs {
		if r.owner == s {
			return r
		}
		if r.owner == nil && anon == nil {
			anon = r
		}
	}
	if anon != nil && (s.Loading() || (s.IsReplica != nil && s.IsReplica())) {
		return anon
	}
	return nil
}

// loadCounter counts the bytes read through it into a loadRun.
type loadCounter struct {
	r   io.Reader
	run *loadRun
}

func (c *loadCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.run.loaded.Add(int64(n))
	return n, err
}

// infoLoading writes INFO persistence's loading and async_loading lines.
// A load in flight with the server not flagged as loading is a replica's
// asynchronous load (repl-diskless-load swapdb: the old dataset is served
// meanwhile).
func infoLoading(s *server.Server, l func(k string, v any)) {
	loading := s.Loading()
	run := loadFor(s)
	l("loading", b2i(loading))
	l("async_loading", b2i(!loading && run != nil && run.owner == nil && run.replica))
}

// infoLoadingProgress writes the loading_* lines Redis adds at the end of
// INFO persistence while loading (genRedisInfoString's formulas).
func infoLoadingProgress(s *server.Server, b *strings.Builder) {
	if !s.Loading() {
		return
	}
	run := loadFor(s)
	now := time.Now().Unix()
	start, total, loaded, usedMem := now, int64(0), int64(0), int64(0)
	if run != nil {
		start, total, loaded, usedMem = run.start, run.total, run.loaded.Load(), run.usedMem.Load()
	}
	perc := 0.0
	remaining := int64(1)
	if total > 0 {
		perc = float64(loaded) / float64(total) * 100
		remaining = total - loaded
	}
	eta := int64(1) // Redis's placeholder until a second has passed
	if elapsed := now - start; elapsed > 0 {
		eta = elapsed * remaining / (loaded + 1)
	}
	fmt.Fprintf(b, "loading_start_time:%d\r\n", start)
	fmt.Fprintf(b, "loading_total_bytes:%d\r\n", total)
	fmt.Fprintf(b, "loading_rdb_used_mem:%d\r\n", usedMem)
	fmt.Fprintf(b, "loading_loaded_bytes:%d\r\n", loaded)
	fmt.Fprintf(b, "loading_loaded_perc:%.2f\r\n", perc)
	fmt.Fprintf(b, "loading_eta_seconds:%d\r\n", eta)
}

package persist

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"time"

	"github.com/vigil-kv/vigil/internal/gcgoal"
	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/server"
)

// Start installs persistence on s and loads the dataset, as Redis does at
// start: the AOF when appendonly is yes, otherwise the RDB file. A corrupt
// file is fatal (the caller exits non-zero) rather than starting with half a
// dataset.
func Start(s *server.Server) error {
	st := Install(s)
	s.Cfg.OnChange("appendonly", func(old, new string) error {
		if new == "yes" && st.AOF == nil && s.Loading() {
			// The first base would be written from a partial dataset.
			return fmt.Errorf("can't turn on the AOF while loading the dataset")
		}
		if new == "yes" && st.AOF == nil {
			return st.EnableAOF(false, true)
		}
		if new == "no" && st.AOF != nil {
			st.DisableAOF()
		}
		return nil
	})
	s.Cfg.OnChange("appendfsync", func(old, new string) error {
		if st.AOF != nil {
			st.AOF.syncMu.Lock()
			st.AOF.fsync = new
			st.AOF.syncMu.Unlock()
		}
		return nil
	})
	if s.Cfg.Bool("appendonly") {
		if err := st.EnableAOF(true, false); err != nil {
			s.Log.Warn(err.Error())
			return fmt.Errorf("fatal error loading the AOF: %w", err)
		}
		return nil
	}
	start := time.Now()
	path := st.Path()
	restoreGC := pauseGCForLoad(path)
	// Load into a keyspace of our own, without the lock, and swap it in:
	// clients connected meanwhile get -LOADING (and INFO shows the
	// progress), as with Redis.
	fresh := freshLike(s.Keyspace())
	stats, err := loadFileFor(s, path, fresh, s.IsReplica != nil && s.IsReplica(), st.onAux)
	if err == nil {
		s.Lock()
		s.Keyspace().Adopt(fresh)
		s.Unlock()
	}
	restoreGC()
	if err != nil {
		s.Log.Warn(fmt.Sprintf("Fatal error loading the DB (%s): %v. Exiting.", path, err))
		return fmt.Errorf("fatal error loading the DB %s: %w", path, err)
	}
	if stats != nil {
		st.lastLoadLoaded, st.lastLoadExpired = stats.Loaded, stats.Expired
		s.Log.Info(fmt.Sprintf("Done loading RDB, keys loaded: %d, keys expired: %d.", stats.Loaded, stats.Expired))
		s.Log.Info(fmt.Sprintf("DB loaded from disk: %.3f seconds", time.Since(start).Seconds()))
	}
	return nil
}

// OnAux receives the RDB aux fields at load (replication restores its
// replid/offset from them).
var OnAux func(s *server.Server, k, v string)

func (st *State) onAux(k, v string) {
	if OnAux != nil {
		OnAux(st.srv, k, v)
	}
}

// pauseGCForLoad turns the garbage collector off for the start-up load of
// the RDB file at path and returns the function that turns it back on.
//
// Nearly everything a load allocates stays live (the decoder reuses its
// buffers), so the collections the runtime would run while the heap grows
// from a few MB to its final size mark the growing dataset again and again
// (with GOGC=100 about twice the final heap in total) and free almost
// nothing; the process serves nothing meanwhile. With the collector off,
// one concurrent cycle runs once serving has started. As a safety net
// against files whose loading does produce garbage (e.g. collections
// converted between encodings), a soft memory limit well above what the
// file can expand to stays in force during the load, unless maxmemory
// already set one.
func pauseGCForLoad(path string) (restore func()) {
	fi, err := os.Stat(path)
	if err != nil {
		return func() {}
	}
	prevLimit := debug.SetMemoryLimit(-1)
	if prevLimit == math.MaxInt64 {
		debug.SetMemoryLimit(64<<20 + 32*min(fi.Size(), math.MaxInt64/64))
	}
	gcOn := gcgoal.Off()
	return func() {
		gcOn()
		debug.SetMemoryLimit(prevLimit)
	}
}

// freshLike returns an empty keyspace to load into, with live's clocks and
// settings (so loaded entries get the stamps they would get in live), to be
// swapped in with Adopt.
func freshLike(live *keyspace.Keyspace) *keyspace.Keyspace {
	fresh := keyspace.New(len(live.DBs))
	fresh.Now = live.Now
	if live.LRUClock != nil {
		fresh.LRUClock = live.LRUClock
	}
	fresh.Evict = live.Evict
	fresh.NoExpireDelete = live.NoExpireDelete
	return fresh
}

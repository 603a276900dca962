// Package persist gives vigil Redis-compatible persistence: RDB snapshots
// (SAVE, BGSAVE, save points, load at start, DEBUG RELOAD) and the AOF.
//
// Snapshots are point-in-time without fork(): see keyspace/snapshot.go for
// the copy-on-write-per-entry design; docs/persistence.md explains it with
// the numbers. The encoder runs in its own goroutine without the keyspace
// lock; only the capture of entry pointers happens under the lock.
package persist

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/rdb"
	"github.com/vigil-kv/vigil/internal/server"
)

// State is the persistence state of one server (fields guarded by the
// server lock unless noted).
type State struct {
	srv *server.Server

	bgsaveInProgress bool
	bgsaveStart      time.Time
	bgsaveScheduled  bool
	savePts          [][2]int64 // parsed save points; nil = parse again
	lastBgsaveOK     bool
	lastBgsaveSecs   int64
	lastSaveTry      time.Time
	saves            int64
	lastLoadLoaded   int64
	lastLoadExpired  int64
	saveKeysTotal    int64
	bgDone           chan struct{}
	dirtyAtSave      int64

	AOF *AOF
}

// Of returns the persistence state of s.
func Of(s *server.Server) *State {
	st, _ := s.PersistExt.(*State)
	return st
}

// Install attaches persistence to s: commands, hooks and INFO.
func Install(s *server.Server) *State {
	st := &State{srv: s, lastBgsaveOK: true}
	s.PersistExt = st
	s.Cfg.OnChange("save", func(old, new string) error {
		st.savePts = nil // re-parsed on the next cron tick
		return nil
	})
	return st
}

func init() {
	commands.Register(
		&commands.Command{Name: "save", Arity: 1, Flags: commands.Admin | commands.NoScript | commands.NoMulti, Proc: saveCommand, Group: "server", Since: "1.0.0", Categories: "@admin @slow @dangerous"},
		&commands.Command{Name: "bgsave", Arity: -1, Flags: commands.Admin | commands.NoScript, Proc: bgsaveCommand, Group: "server", Since: "1.0.0", Categories: "@admin @slow @dangerous"},
	)
	server.InfoSections["persistence"] = infoPersistence
	server.ShutdownHooks = append(server.ShutdownHooks, shutdownHook)
	server.CronHooks = append(server.CronHooks, cronHook)
	server.FlushHooks = append(server.FlushHooks, flushHook)
	server.DebugHooks = append(server.DebugHooks, debugHook)
}

// Path is the RDB file path (dir is the process cwd, as Redis chdirs).
func (st *State) Path() string {
	return filepath.Join(st.srv.Cfg.String("dir"), st.srv.Cfg.String("dbfilename"))
}

func (st *State) writeOptions() WriteOptions {
	cfg := st.srv.Cfg
	th := rdb.DefaultThresholds()
	th.HashMaxListpackEntries = int(cfg.Int("hash-max-listpack-entries"))
	th.HashMaxListpackValue = int(cfg.Int("hash-max-listpack-value"))
	th.SetMaxIntsetEntries = int(cfg.Int("set-max-intset-entries"))
	th.ZSetMaxListpackEntries = int(cfg.Int("zset-max-listpack-entries"))
	th.ZSetMaxListpackValue = int(cfg.Int("zset-max-listpack-value"))
	th.ListMaxListpackSize = int(cfg.Int("list-max-listpack-size"))
	o := WriteOptions{Compress: cfg.Bool("rdbcompression"), Checksum: cfg.Bool("rdbchecksum"), Thresholds: &th}
	if ReplAux != nil {
		o.Aux = append(o.Aux, ReplAux(st.srv)...)
	}
	return o
}

// SaveSync saves in the foreground (lock held): SAVE, SHUTDOWN, FLUSHALL.
func (st *State) SaveSync() error {
	s := st.srv
	dirty := s.Dirty()
	start := time.Now()
	// The lock is held for the whole save, so the live tables are a
	// consistent image: no snapshot needed.
	_, err := SaveKeyspaceFile(st.Path(), s.Keyspace(), st.writeOptions())
	if err != nil {
		s.Log.Warn(fmt.Sprintf("Failed opening the temp RDB file temp-%d.rdb (in server root dir %s) for saving: %v", 0, s.Cfg.String("dir"), err))
		st.lastBgsaveOK = false
		return err
	}
	s.ResetDirty(dirty)
	s.SetLastSave(time.Now().Unix())
	st.saves++
	st.lastBgsaveOK = true
	s.Log.Info(fmt.Sprintf("DB saved on disk (%.3f seconds)", time.Since(start).Seconds()))
	return nil
}

// BgSave starts a background save (lock held). It returns an error if one
// is already running.
func (st *State) BgSave(reason string) error {
	s := st.srv
	if st.bgsaveInProgress {
		return errors.New("Background save already in progress")
	}
	snap := s.Keyspace().BeginSnapshot()
	dirty := s.Dirty()
	st.bgsaveInProgress = true
	st.bgsaveStart = time.Now()
	st.lastSaveTry = time.Now()
	st.saveKeysTotal = int64(snap.Keys())
	st.bgDone = make(chan struct{})
	opt := st.writeOptions()
	path := st.Path()
	s.Log.Info("Background saving started by pid " + strconv.Itoa(osPid()))
	StartSnapshotTrace()
	done := st.bgDone
	go func() {
		_, err := SaveFile(path, snap, opt)
		s.Lock()
		snap.Release()
		st.bgsaveInProgress = false
		st.lastBgsaveSecs = int64(time.Since(st.bgsaveStart).Seconds())
		if err != nil {
			st.lastBgsaveOK = false
			s.Log.Warn("Background saving error: " + err.Error())
		} else {
			st.lastBgsaveOK = true
			st.saves++
			s.ResetDirty(dirty)
			s.SetLastSave(time.Now().Unix())
			s.Log.Info("DB saved on disk")
			s.Log.Info("Background saving terminated with success")
		}
		s.Unlock()
		close(done)
	}()
	return nil
}

// WaitBgSave blocks until the running background save ends (lock NOT held).
func (st *State) WaitBgSave() {
	st.srv.Lock()
	ch := st.bgDone
	running := st.bgsaveInProgress
	st.srv.Unlock()
	if running && ch != nil {
		<-ch
	}
}

func saveCommand(ctx *commands.Ctx) {
	st := Of(server.ServerOf(ctx))
	if st.bgsaveInProgress {
		ctx.W.Error("ERR Background save already in progress")
		return
	}
	if err := st.SaveSync(); err != nil {
		ctx.W.Error("ERR")
		return
	}
	ctx.W.OK()
}

func bgsaveCommand(ctx *commands.Ctx) {
	st := Of(server.ServerOf(ctx))
	schedule := false
	if len(ctx.Args) > 1 {
		if len(ctx.Args) == 2 && commands.EqualFold(ctx.Args[1], "schedule") {
			schedule = true
		} else {
			ctx.W.Error(commands.ErrSyntax)
			return
		}
	}
	if st.bgsaveInProgress {
		if schedule {
			st.bgsaveScheduled = true
			ctx.W.Simple("Background saving scheduled")
			return
		}
		ctx.W.Error("ERR Background save already in progress")
		return
	}
	if st.AOF != nil && st.AOF.rewriting {
		if schedule {
			st.bgsaveScheduled = true
			ctx.W.Simple("Background saving scheduled")
			return
		}
		ctx.W.Error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
		return
	}
	if err := st.BgSave("user"); err != nil {
		ctx.W.Error("ERR " + err.Error())
		return
	}
	ctx.W.Simple("Background saving started")
}

// savePoints parses the save directive: pairs of seconds/changes.
func savePoints(s *server.Server) [][2]int64 {
	var out [][2]int64
	v := s.Cfg.Strings("save")
	if len(v) == 1 {
		v = strings.Fields(v[0])
	}
	for i := 0; i+1 < len(v); i += 2 {
		a, _ := strconv.ParseInt(v[i], 10, 64)
		b, _ := strconv.ParseInt(v[i+1], 10, 64)
		out = append(out, [2]int64{a, b})
	}
	return out
}

// cachedSavePoints is savePoints, parsed again only after CONFIG SET save
// (the cron asks ten times a second while the dataset is dirty).
func (st *State) cachedSavePoints(s *server.Server) [][2]int64 {
	if st.savePts == nil {
		st.savePts = savePoints(s)
		if st.savePts == nil {
			st.savePts = [][2]int64{}
		}
	}
	return st.savePts
}

func cronHook(s *server.Server) {
	st := Of(s)
	if st == nil {
		return
	}
	if st.AOF != nil {
		st.AOF.cron()
	}
	if st.bgsaveInProgress || (st.AOF != nil && st.AOF.rewriting) {
		return
	}
	if st.bgsaveScheduled {
		st.bgsaveScheduled = false
		st.BgSave("scheduled")
		return
	}
	dirty := s.Dirty()
	if dirty == 0 {
		return
	}
	now := time.Now()
	// After a failed save, wait 5 s before retrying (CONFIG_BGSAVE_RETRY_DELAY).
	if !st.lastBgsaveOK && now.Sub(st.lastSaveTry) < 5*time.Second {
		return
	}
	last := time.Unix(s.LastSave(), 0)
	for _, sp := range st.cachedSavePoints(s) {
		if dirty >= sp[1] && now.Sub(last) >= time.Duration(sp[0])*time.Second {
			s.Log.Info(fmt.Sprintf("%d changes in %d seconds. Saving...", sp[1], sp[0]))
			st.BgSave("savepoint")
			return
		}
	}
}

func shutdownHook(s *server.Server, save, nosave bool) error {
	st := Of(s)
	if st == nil {
		return nil
	}
	if st.AOF != nil {
		st.AOF.flushAndSync()
	}
	if nosave {
		return nil
	}
	if s.Loading() {
		// As Redis 7 does: no final save while loading (the dataset in
		// memory is not the whole one).
		s.Log.Warn("Loading the dataset: shutting down without saving.")
		return nil
	}
	if save || len(savePoints(s)) > 0 {
		s.Log.Info("Saving the final RDB snapshot before exiting.")
		if err := st.SaveSync(); err != nil {
			s.Log.Warn("Error trying to save the DB, can't exit.")
			return err
		}
	}
	return nil
}

func flushHook(s *server.Server) {
	st := Of(s)
	if st == nil || len(savePoints(s)) == 0 {
		return
	}
	st.SaveSync()
}

func debugHook(s *server.Server, ctx *commands.Ctx, sub string) bool {
	st := Of(s)
	if st == nil {
		return false
	}
	switch sub {
	case "reload":
		if s.Loading() {
			// The dataset is not all in yet (start-up load, replica
			// sync): saving now would write part of it over the file.
			ctx.W.Error("LOADING Redis is loading the dataset in memory")
			return true
		}
		// Save, then load the file back into a fresh keyspace and swap.
		nosave, nflush := false, false
		for _, a := range ctx.Args[2:] {
			switch strings.ToUpper(string(a)) {
			case "NOSAVE":
				nosave = true
			case "NOFLUSH":
				nflush = true
			case "MERGE":
			default:
				ctx.W.Error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
				return true
			}
		}
		if !nosave {
			if err := st.SaveSync(); err != nil {
				ctx.W.Error("ERR Error trying to save the DB")
				return true
			}
		}
		fresh := freshLike(s.Keyspace())
		wasLoading := s.Loading()
		s.SetLoading(true)
		_, err := loadFileFor(s, st.Path(), fresh, false, nil)
		s.SetLoading(wasLoading)
		if err != nil {
			ctx.W.Error("ERR Error trying to load the RDB dump, check server logs.")
			return true
		}
		_ = nflush
		s.Keyspace().Adopt(fresh)
		s.Log.Info("DB reloaded by DEBUG RELOAD")
		ctx.W.OK()
		return true
	case "loadaof":
		if st.AOF == nil {
			ctx.W.OK()
			return true
		}
		// Runs inside a command: the lock is held, so replay with it.
		st.AOF.flushAndSync()
		if err := st.AOF.load(true); err != nil {
			ctx.W.Error("ERR Error loading the AOF: " + err.Error())
			return true
		}
		ctx.W.OK()
		return true
	}
	return false
}

func infoPersistence(s *server.Server, b *strings.Builder) {
	st := Of(s)
	if st == nil {
		st = &State{lastBgsaveOK: true}
	}
	l := func(k string, v any) { fmt.Fprintf(b, "%s:%v\r\n", k, v) }
	b.WriteString("# Persistence\r\n")
	infoLoading(s, l)
	l("current_cow_peak", 0)
	l("current_cow_size", 0)
	l("current_cow_size_age", 0)
	l("current_fork_perc", "0.00")
	l("current_save_keys_processed", 0)
	l("current_save_keys_total", st.saveKeysTotal)
	l("rdb_changes_since_last_save", s.Dirty())
	l("rdb_bgsave_in_progress", b2i(st.bgsaveInProgress))
	l("rdb_last_save_time", s.LastSave())
	l("rdb_last_bgsave_status", okErr(st.lastBgsaveOK))
	l("rdb_last_bgsave_time_sec", st.lastBgsaveSecsOr())
	cur := int64(-1)
	if st.bgsaveInProgress {
		cur = int64(time.Since(st.bgsaveStart).Seconds())
	}
	l("rdb_current_bgsave_time_sec", cur)
	l("rdb_saves", st.saves)
	l("rdb_last_cow_size", 0)
	l("rdb_last_load_keys_expired", st.lastLoadExpired)
	l("rdb_last_load_keys_loaded", st.lastLoadLoaded)
	a := st.AOF
	l("aof_enabled", b2i(a != nil && a.enabled))
	l("aof_rewrite_in_progress", b2i(a != nil && a.rewriting))
	l("aof_rewrite_scheduled", b2i(a != nil && a.rewriteScheduled))
	l("aof_last_rewrite_time_sec", -1)
	l("aof_current_rewrite_time_sec", -1)
	l("aof_last_bgrewrite_status", okErr(a == nil || a.lastRewriteOK))
	l("aof_rewrites", aofRewrites(a))
	l("aof_rewrites_consecutive_failures", 0)
	l("aof_last_write_status", okErr(a == nil || a.writeStatusOK()))
	l("aof_last_cow_size", 0)
	l("module_fork_in_progress", 0)
	l("module_fork_last_cow_size", 0)
	if a != nil && a.enabled {
		l("aof_current_size", a.currentSize)
		l("aof_base_size", a.baseSize)
		l("aof_pending_rewrite", 0)
		l("aof_buffer_length", a.bufferLen())
		l("aof_pending_bio_fsync", a.pendingBioFsync())
		l("aof_delayed_fsync", a.delayedFsyncs())
	}
	infoLoadingProgress(s, b)
}

func (st *State) lastBgsaveSecsOr() int64 {
	if st.saves == 0 && st.lastBgsaveSecs == 0 {
		return -1
	}
	return st.lastBgsaveSecs
}

func aofRewrites(a *AOF) int64 {
	if a == nil {
		return 0
	}
	return a.rewrites
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func okErr(ok bool) string {
	if ok {
		return "ok"
	}
	return "err"
}

func osPid() int { return os.Getpid() }

// WriteOptionsFor returns the RDB options from the current config (for
// replication's snapshots).
func (st *State) WriteOptionsFor() WriteOptions { return st.writeOptions() }

// ReplAux returns repl-id / repl-offset for the RDB aux fields (installed
// by replication).
var ReplAux func(s *server.Server) [][2]string

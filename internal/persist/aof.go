package persist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/lowprio"
	"github.com/vigil-kv/vigil/internal/rdb"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/server"
)

// AOF in Redis 7's multi-part layout: a directory (appenddirname) holding
// one base file (RDB preamble or plain commands), incremental command files,
// and a manifest naming them:
//
//	file appendonly.aof.1.base.rdb seq 1 type b
//	file appendonly.aof.1.incr.aof seq 1 type i
//
// Writes are encoded into a buffer as they propagate. Under appendfsync
// everysec and no, the buffer is written to the current incremental file
// before the batch's replies go out (BeforeReply); under always, the AOF
// writer goroutine writes and fsyncs it outside the server lock, once for
// all the batches buffered so far, and the replies wait for that fsync
// (group commit; aof_writer.go, server/durable.go).
// BGREWRITEAOF switches to a new incremental file and writes a new base
// from a point-in-time snapshot under the same lock acquisition, so base +
// new incr is exactly the dataset; the manifest is then replaced atomically
// and the old files deleted.

type aofFile struct {
	name string
	seq  int64
	typ  byte // 'b' base, 'i' incr, 'h' history
}

// AOF is the append-only file state (server lock guards it unless noted).
type AOF struct {
	st      *State
	enabled bool
	dir     string
	prefix  string

	base  *aofFile
	incrs []*aofFile

	lastDB int

	// The write path (aof_writer.go). syncMu guards the fields up to wmu;
	// f is changed with both wmu and syncMu held.
	syncMu         sync.Mutex
	f              *os.File
	buf            []byte // encoded commands not yet written
	spare          []byte
	fsync          string     // appendfsync policy
	appendOff      int64      // bytes ever appended to buf
	writtenOff     int64      // bytes ever written to the files
	syncedOff      int64      // bytes ever fsynced
	retired        []*os.File // previous incr files, fsynced and closed by the next fsync pass
	fsyncing       bool       // an fsync pass is running
	synced         chan struct{}
	postponedStart time.Time // everysec: first write postponed behind a running fsync
	lastFsync      time.Time
	lastFsyncDur   time.Duration
	delayedFsync   int64
	writeErr       bool       // last write failed
	fsyncErr       bool       // last background fsync failed
	wmu            sync.Mutex // one write() (or file switch) at a time
	fsyncMu        sync.Mutex // one fsync pass at a time
	kick           chan struct{}
	stopSync       chan struct{}
	stopped        chan struct{}

	loading  bool
	heldLock bool // loading with the server lock already held (DEBUG LOADAOF)
	// complete is true when the manifest on disk describes the whole
	// dataset (loaded from it, or after a rewrite). Only then may a new
	// incremental file be added to it before the rewrite finishes.
	complete         bool
	rewriting        bool
	rewriteScheduled bool
	rewrites         int64
	lastRewriteOK    bool
	currentSize      int64
	baseSize         int64
}

func (st *State) newAOF() *AOF {
	s := st.srv
	a := &AOF{st: st, enabled: true, lastDB: -1, lastRewriteOK: true}
	a.synced = make(chan struct{})
	a.kick = make(chan struct{}, 1)
	a.dir = filepath.Join(s.Cfg.String("dir"), s.Cfg.String("appenddirname"))
	a.prefix = s.Cfg.String("appendfilename")
	a.fsync = s.Cfg.String("appendfsync")
	return a
}

func (a *AOF) manifestPath() string { return filepath.Join(a.dir, a.prefix+".manifest") }

func (a *AOF) readManifest() (bool, error) {
	data, err := os.ReadFile(a.manifestPath())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	a.base, a.incrs = nil, nil
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		af := &aofFile{}
		for j := 0; j+1 < len(f); j += 2 {
			switch f[j] {
			case "file":
				af.name = f[j+1]
			case "seq":
				af.seq, _ = strconv.ParseInt(f[j+1], 10, 64)
			case "type":
				af.typ = f[j+1][0]
			}
		}
		if af.name == "" || af.typ == 0 || strings.ContainsAny(af.name, "/\\") {
			return false, fmt.Errorf("Invalid AOF manifest file format at line %d: %q", i+1, line)
		}
		switch af.typ {
		case 'b':
			a.base = af
		case 'i':
			a.incrs = append(a.incrs, af)
		}
	}
	sort.Slice(a.incrs, func(i, j int) bool { return a.incrs[i].seq < a.incrs[j].seq })
	return true, nil
}

func (a *AOF) manifestText() string {
	var b strings.Builder
	if a.base != nil {
		fmt.Fprintf(&b, "file %s seq %d type b\n", a.base.name, a.base.seq)
	}
	for _, f := range a.incrs {
		fmt.Fprintf(&b, "file %s seq %d type i\n", f.name, f.seq)
	}
	return b.String()
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (a *AOF) nextIncrSeq() int64 {
	var n int64
	for _, f := range a.incrs {
		if f.seq > n {
			n = f.seq
		}
	}
	return n + 1
}

// openIncr creates a new incremental file and makes it current.
func (a *AOF) openIncr() error {
	seq := a.nextIncrSeq()
	name := fmt.Sprintf("%s.%d.incr.aof", a.prefix, seq)
	f, err := os.OpenFile(filepath.Join(a.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	a.switchFile(f)
	a.incrs = append(a.incrs, &aofFile{name: name, seq: seq, typ: 'i'})
	a.lastDB = -1
	return nil
}

// openLastIncr reopens the newest incremental file for appending.
func (a *AOF) openLastIncr() error {
	if len(a.incrs) == 0 {
		if err := a.openIncr(); err != nil {
			return err
		}
		return writeFileAtomic(a.manifestPath(), []byte(a.manifestText()))
	}
	last := a.incrs[len(a.incrs)-1]
	f, err := os.OpenFile(filepath.Join(a.dir, last.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	a.switchFile(f)
	a.lastDB = -1
	return nil
}

func (a *AOF) cron() {
	if !a.enabled {
		return
	}
	// Writes with no client batch behind them (the master link on a
	// replica, active expiry) reach the file at least once per tick, as
	// with Redis's flushAppendOnlyFile in serverCron.
	a.beforeReply()
	if a.rewriting || a.st.bgsaveInProgress {
		return
	}
	if a.rewriteScheduled {
		a.rewriteScheduled = false
		a.startRewrite()
		return
	}
	cfg := a.st.srv.Cfg
	perc := cfg.Int("auto-aof-rewrite-percentage")
	minSize := cfg.Int("auto-aof-rewrite-min-size")
	if perc > 0 && a.currentSize > minSize {
		base := a.baseSize
		if base == 0 {
			base = 1
		}
		growth := (a.currentSize - base) * 100 / base
		if growth >= perc {
			a.st.srv.Log.Info(fmt.Sprintf("Starting automatic rewriting of AOF on %d%% growth", growth))
			a.startRewrite()
		}
	}
}

// startRewrite begins BGREWRITEAOF (lock held).
func (a *AOF) startRewrite() error {
	s := a.st.srv
	if a.rewriting {
		return errors.New("Background append only file rewriting already in progress")
	}
	if err := a.openIncr(); err != nil {
		return err
	}
	if a.complete {
		// Like Redis, list the new incremental file in the manifest now:
		// writes go there from this moment, and a crash before the rewrite
		// ends must still find them (old base + old incrs + new incr).
		if err := writeFileAtomic(a.manifestPath(), []byte(a.manifestText())); err != nil {
			s.Log.Warn("Can't persist the AOF manifest: " + err.Error())
		}
	}
	snap := s.Keyspace().BeginSnapshot()
	a.rewriting = true
	baseSeq := int64(1)
	if a.base != nil {
		baseSeq = a.base.seq + 1
	}
	preamble := s.Cfg.Bool("aof-use-rdb-preamble")
	ext := "aof"
	if preamble {
		ext = "rdb"
	}
	baseName := fmt.Sprintf("%s.%d.base.%s", a.prefix, baseSeq, ext)
	newIncr := a.incrs[len(a.incrs)-1]
	opt := a.st.writeOptions()
	dir := a.dir
	s.Log.Info("Background append only file rewriting started")
	go func() {
		path := filepath.Join(dir, baseName)
		var n int64
		var err error
		if preamble {
			n, err = SaveFile(path, snap, opt)
		} else {
			n, err = writeCommandBase(path, snap)
		}
		s.Lock()
		snap.Release()
		a.rewriting = false
		if err == nil {
			old := append([]*aofFile{}, a.incrs...)
			oldBase := a.base
			a.base = &aofFile{name: baseName, seq: baseSeq, typ: 'b'}
			a.incrs = []*aofFile{newIncr}
			if err = writeFileAtomic(a.manifestPath(), []byte(a.manifestText())); err == nil {
				for _, f := range old {
					if f != newIncr {
						os.Remove(filepath.Join(dir, f.name))
					}
				}
				if oldBase != nil && oldBase.name != baseName {
					os.Remove(filepath.Join(dir, oldBase.name))
				}
				a.baseSize = n
				a.currentSize = n
				a.complete = true
				a.rewrites++
				a.lastRewriteOK = true
				s.Log.Info("Background AOF rewrite terminated with success")
				s.Log.Info("Background AOF rewrite finished successfully")
			} else {
				a.base = oldBase
				a.incrs = old
			}
		}
		if err != nil {
			a.lastRewriteOK = false
			s.Log.Warn("Background AOF rewrite failed: " + err.Error())
		}
		s.Unlock()
	}()
	return nil
}

// writeCommandBase writes a plain-command base file from a snapshot.
func writeCommandBase(path string, snap *keyspace.Snapshot) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var n int64
	var buf []byte
	for dbID, list := range snap.Lists() {
		if list.Len() == 0 {
			continue
		}
		buf = resp.AppendCommand(buf[:0], "SELECT", strconv.Itoa(dbID))
		for se := range list.All() {
			v, err := ToRDBValue(se.E)
			if err != nil {
				f.Close()
				return 0, err
			}
			key := []byte(se.E.Key())
			buf = appendRebuild(buf, key, &v)
			if se.Expire != 0 {
				buf = resp.AppendCommandBytes(buf, [][]byte{[]byte("PEXPIREAT"), key, []byte(strconv.FormatInt(se.Expire, 10))})
			}
			if len(buf) > 64<<10 {
				m, _ := bw.Write(buf)
				n += int64(m)
				buf = buf[:0]
			}
		}
		m, _ := bw.Write(buf)
		n += int64(m)
		buf = buf[:0]
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	if err := lowprio.Blocking(f.Sync); err != nil {
		f.Close()
		return 0, err
	}
	f.Close()
	return n, os.Rename(tmp, path)
}

func (a *AOF) lock() {
	if !a.heldLock {
		a.st.srv.Lock()
	}
}

func (a *AOF) unlock() {
	if !a.heldLock {
		a.st.srv.Unlock()
	}
}

// LoadInto replays the AOF into the server's keyspace (startup or DEBUG
// LOADAOF); ks is only used to size things. Lock must NOT be held: it
// takes it per command batch.
func (a *AOF) LoadInto(_ *keyspace.Keyspace) error {
	return a.load(false)
}

// load replays the AOF; held says the caller already holds the server lock
// (DEBUG LOADAOF runs inside a command).
func (a *AOF) load(held bool) error {
	s := a.st.srv
	if _, err := a.readManifest(); err != nil {
		return err
	}
	a.loading = true
	a.heldLock = held
	defer func() { a.loading = false; a.heldLock = false }()
	a.lock()
	for _, db := range s.Keyspace().DBs {
		db.Flush()
	}
	a.unlock()
	start := time.Now()
	if a.base != nil {
		path := filepath.Join(a.dir, a.base.name)
		n, err := a.loadFile(path, true, false)
		if err != nil {
			return err
		}
		a.baseSize = n
		a.currentSize = n
	}
	for i, f := range a.incrs {
		last := i == len(a.incrs)-1
		n, err := a.loadFile(filepath.Join(a.dir, f.name), false, last)
		if err != nil {
			return err
		}
		a.currentSize += n
	}
	s.Log.Info(fmt.Sprintf("DB loaded from append only file: %.3f seconds", time.Since(start).Seconds()))
	return nil
}

// loadFile loads one AOF part: RDB preamble or commands. Only the last
// incremental file may have a torn tail, which aof-load-truncated allows
// us to cut off.
func (a *AOF) loadFile(path string, isBase, isLast bool) (int64, error) {
	s := a.st.srv
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if isBase {
			return 0, fmt.Errorf("The AOF file %s doesn't exist", filepath.Base(path))
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if bytes.HasPrefix(data, []byte("REDIS")) {
		a.lock()
		st, err := Load(bytes.NewReader(data), s.Keyspace(), false, nil)
		a.unlock()
		if err != nil {
			return 0, fmt.Errorf("Bad file format reading the append only file %s: %v", filepath.Base(path), err)
		}
		s.Log.Info(fmt.Sprintf("Loading RDB preamble from AOF file... Done loading RDB, keys loaded: %d, keys expired: %d.", st.Loaded, st.Expired))
		return int64(len(data)), nil
	}
	fake := s.NewFakeClient()
	counting := &countingReader{r: bytes.NewReader(data)}
	rd := resp.NewReader(counting, 0, 0)
	var cmds []resp.Command
	var good int64
	for {
		cmds, err = rd.ReadCommands(cmds[:0])
		if len(cmds) > 0 {
			a.lock()
			for _, c := range cmds {
				if cmd := commands.Lookup(c.Args[0]); cmd == nil {
					a.unlock()
					return 0, fmt.Errorf("Unknown command '%s' reading the append only file %s", c.Args[0], filepath.Base(path))
				}
				fake.Exec(c.Args)
			}
			a.unlock()
		}
		good = counting.n - int64(rd.Buffered())
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		return int64(len(data)), nil
	}
	if errors.Is(err, io.ErrUnexpectedEOF) && isLast {
		if s.Cfg.Bool("aof-load-truncated") {
			s.Log.Warn(fmt.Sprintf("!!! Warning: short read while loading the AOF file %s!!!", filepath.Base(path)))
			s.Log.Warn(fmt.Sprintf("!!! Truncating the AOF %s at offset %d !!!", filepath.Base(path), good))
			if terr := os.Truncate(path, good); terr != nil {
				return 0, terr
			}
			s.Log.Warn(fmt.Sprintf("AOF %s loaded anyway because aof-load-truncated is enabled (%d bytes of a torn command dropped)", filepath.Base(path), int64(len(data))-good))
			return good, nil
		}
		return 0, fmt.Errorf("Unexpected end of file reading the append only file %s at offset %d. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server", filepath.Base(path), good)
	}
	return 0, fmt.Errorf("Bad file format reading the append only file %s at offset %d: %v. make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>", filepath.Base(path), good, err)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// EnableAOF starts the AOF at server start: load it if present, otherwise
// create the directory with a base from the current dataset.
func (st *State) EnableAOF(load, locked bool) error {
	a := st.newAOF()
	st.AOF = a
	s := st.srv
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		return fmt.Errorf("Can't open the append-only file directory %s: %v", a.dir, err)
	}
	exists, err := a.readManifest()
	if err != nil {
		return err
	}
	a.complete = exists
	if exists && load {
		if err := a.LoadInto(nil); err != nil {
			return err
		}
	}
	s.AOFPropagators = append(s.AOFPropagators, a.feed)
	s.BeforeReply = append(s.BeforeReply, a.beforeReply)
	a.startWriter()
	s.Durable = a
	if !exists {
		// First start with AOF: write a base of what we have so the
		// directory is complete on its own.
		if !locked {
			s.Lock()
			defer s.Unlock()
		}
		// With no data yet, an incr-only manifest is already complete, so
		// nothing written before the first base lands can be lost.
		a.complete = s.Keyspace().DBs != nil && keyCount(s) == 0
		return a.startRewrite()
	}
	return a.openLastIncr()
}

// DisableAOF turns the AOF off at runtime (CONFIG SET appendonly no).
func (st *State) DisableAOF() {
	a := st.AOF
	if a == nil {
		return
	}
	a.stopWriter()
	a.enabled = false
	st.AOF = nil
	s := st.srv
	if s.Durable == server.Durability(a) {
		s.Durable = nil
	}
	// Remove our hooks by rebuilding the lists without them.
	var keep []func(int, [][]byte)
	for _, p := range s.AOFPropagators {
		if fmt.Sprintf("%p", p) != fmt.Sprintf("%p", a.feed) {
			keep = append(keep, p)
		}
	}
	s.AOFPropagators = keep
	var keepBR []func()
	for _, h := range s.BeforeReply {
		if fmt.Sprintf("%p", h) != fmt.Sprintf("%p", a.beforeReply) {
			keepBR = append(keepBR, h)
		}
	}
	s.BeforeReply = keepBR
}

func init() {
	commands.Register(&commands.Command{Name: "bgrewriteaof", Arity: 1, Flags: commands.Admin | commands.NoScript, Proc: bgrewriteaofCommand, Group: "server", Since: "1.0.0", Categories: "@admin @slow @dangerous"})
}

func bgrewriteaofCommand(ctx *commands.Ctx) {
	st := Of(server.ServerOf(ctx))
	a := st.AOF
	if a == nil {
		// Redis rewrites even when AOF is off (it produces the files);
		// vigil requires appendonly yes for now.
		ctx.W.Error("ERR Background append only file rewriting needs appendonly yes in vigil")
		return
	}
	if a.rewriting {
		ctx.W.Error("ERR Background append only file rewriting already in progress")
		return
	}
	if st.bgsaveInProgress {
		a.rewriteScheduled = true
		ctx.W.Simple("Background append only file rewriting scheduled")
		return
	}
	if err := a.startRewrite(); err != nil {
		ctx.W.Error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
		return
	}
	ctx.W.Simple("Background append only file rewriting started")
}

// appendRebuild appends the commands that rebuild one value, in batches of
// 64 elements like Redis's AOF_REWRITE_ITEMS_PER_CMD.
func appendRebuild(buf []byte, key []byte, v *rdb.Value) []byte {
	const per = 64
	emit := func(cmd string, items [][]byte) {
		args := make([][]byte, 0, len(items)+2)
		args = append(args, []byte(cmd), key)
		args = append(args, items...)
		buf = resp.AppendCommandBytes(buf, args)
	}
	var items [][]byte
	flush := func(cmd string) {
		if len(items) > 0 {
			emit(cmd, items)
			items = items[:0]
		}
	}
	switch v.Type {
	case rdb.TypeString:
		return resp.AppendCommandBytes(buf, [][]byte{[]byte("SET"), key, v.Str})
	case rdb.TypeList:
		for _, x := range v.List {
			items = append(items, x)
			if len(items) == per {
				flush("RPUSH")
			}
		}
		flush("RPUSH")
	case rdb.TypeSet:
		for _, x := range v.Set {
			items = append(items, x)
			if len(items) == per {
				flush("SADD")
			}
		}
		flush("SADD")
	case rdb.TypeZSet:
		for _, m := range v.ZSet {
			items = append(items, []byte(commands.FormatDouble(m.Score)), m.Member)
			if len(items) >= 2*per {
				flush("ZADD")
			}
		}
		flush("ZADD")
	case rdb.TypeHash:
		for _, f := range v.Hash {
			items = append(items, f.Field, f.Value)
			if len(items) >= 2*per {
				flush("HSET")
			}
		}
		flush("HSET")
	}
	return buf
}

func keyCount(s *server.Server) int {
	n := 0
	for _, db := range s.Keyspace().DBs {
		n += db.Len()
	}
	return n
}

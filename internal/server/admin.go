package server

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/resp"
)

// Server administration commands.

func init() {
	type cc = commands.Command
	C := commands.Register
	adm := commands.Admin | commands.NoScript | commands.Loading | commands.Stale
	C(
		&cc{Name: "config", Arity: -2, Group: "server", Since: "2.0.0", Categories: "@slow", Sub: map[string]*cc{
			"get":       {Name: "get", Arity: -3, Flags: adm, Proc: configGetCommand, Categories: "@admin @slow @dangerous"},
			"set":       {Name: "set", Arity: -4, Flags: adm | commands.MayReplicate, Proc: configSetCommand, Categories: "@admin @slow @dangerous"},
			"resetstat": {Name: "resetstat", Arity: 2, Flags: adm, Proc: configResetstatCommand, Categories: "@admin @slow @dangerous"},
			"rewrite":   {Name: "rewrite", Arity: 2, Flags: adm, Proc: configRewriteCommand, Categories: "@admin @slow @dangerous"},
			"help":      {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: configHelpCommand, Categories: "@slow"},
		}},
		&cc{Name: "time", Arity: 1, Flags: commands.Loading | commands.Stale | commands.Fast, Proc: timeCommand, Group: "server", Since: "2.6.0", Categories: "@fast"},
		&cc{Name: "lastsave", Arity: 1, Flags: commands.Loading | commands.Stale | commands.Fast, Proc: lastsaveCommand, Group: "server", Since: "1.0.0", Categories: "@fast @admin @dangerous"},
		&cc{Name: "flushdb", Arity: -1, Flags: commands.Write, Proc: flushdbCommand, Group: "server", Since: "1.0.0", Categories: "@keyspace @write @slow @dangerous"},
		&cc{Name: "flushall", Arity: -1, Flags: commands.Write, Proc: flushallCommand, Group: "server", Since: "1.0.0", Categories: "@keyspace @write @slow @dangerous"},
		&cc{Name: "swapdb", Arity: 3, Flags: commands.Write | commands.Fast, Proc: swapdbCommand, Group: "server", Since: "4.0.0", Categories: "@keyspace @write @fast @dangerous"},
		&cc{Name: "shutdown", Arity: -1, Flags: adm | commands.AllowBusy | commands.NoMulti | commands.Sentinel, Proc: shutdownCommand, Group: "server", Since: "1.0.0", Categories: "@admin @slow @dangerous"},
		&cc{Name: "monitor", Arity: 1, Flags: adm, Proc: monitorCommand, Group: "server", Since: "1.0.0", Categories: "@admin @slow @dangerous"},
		&cc{Name: "slowlog", Arity: -2, Group: "server", Since: "2.2.12", Categories: "@slow", Sub: map[string]*cc{
			"get":   {Name: "get", Arity: -2, Flags: adm, Proc: slowlogGetCommand, Categories: "@admin @slow @dangerous"},
			"len":   {Name: "len", Arity: 2, Flags: adm, Proc: slowlogLenCommand, Categories: "@admin @slow @dangerous"},
			"reset": {Name: "reset", Arity: 2, Flags: adm, Proc: slowlogResetCommand, Categories: "@admin @slow @dangerous"},
			"help":  {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: slowlogHelpCommand, Categories: "@slow"},
		}},
		&cc{Name: "latency", Arity: -2, Group: "server", Since: "2.8.13", Categories: "@slow", Sub: map[string]*cc{
			"latest":    {Name: "latest", Arity: 2, Flags: adm, Proc: latencyLatestCommand, Categories: "@admin @slow @dangerous"},
			"history":   {Name: "history", Arity: 3, Flags: adm, Proc: latencyHistoryCommand, Categories: "@admin @slow @dangerous"},
			"reset":     {Name: "reset", Arity: -2, Flags: adm, Proc: latencyResetCommand, Categories: "@admin @slow @dangerous"},
			"doctor":    {Name: "doctor", Arity: 2, Flags: adm, Proc: latencyDoctorCommand, Categories: "@admin @slow @dangerous"},
			"graph":     {Name: "graph", Arity: 3, Flags: adm, Proc: latencyGraphCommand, Categories: "@admin @slow @dangerous"},
			"histogram": {Name: "histogram", Arity: -2, Flags: adm, Proc: latencyHistogramCommand, Categories: "@admin @slow @dangerous"},
			"help":      {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: latencyHelpCommand, Categories: "@slow"},
		}},
		&cc{Name: "object", Arity: -2, Group: "generic", Since: "2.2.3", Categories: "@slow", Sub: map[string]*cc{
			"encoding": {Name: "encoding", Arity: 3, Flags: commands.ReadOnly, FirstKey: 2, LastKey: 2, Proc: objectEncodingCommand, Categories: "@keyspace @read @slow"},
			"refcount": {Name: "refcount", Arity: 3, Flags: commands.ReadOnly, FirstKey: 2, LastKey: 2, Proc: objectRefcountCommand, Categories: "@keyspace @read @slow"},
			"idletime": {Name: "idletime", Arity: 3, Flags: commands.ReadOnly, FirstKey: 2, LastKey: 2, Proc: objectIdletimeCommand, Categories: "@keyspace @read @slow"},
			"freq":     {Name: "freq", Arity: 3, Flags: commands.ReadOnly, FirstKey: 2, LastKey: 2, Proc: objectFreqCommand, Categories: "@keyspace @read @slow"},
			"help":     {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: objectHelpCommand, Categories: "@keyspace @slow"},
		}},
		&cc{Name: "debug", Arity: -2, Flags: adm | commands.Loading | commands.Stale, Proc: debugCommand, Group: "server", Since: "1.0.0", Categories: "@admin @slow @dangerous"},
		&cc{Name: "command", Arity: -1, Flags: commands.Loading | commands.Stale | commands.Sentinel, Proc: commandCommand, Group: "server", Since: "2.8.13", Categories: "@slow @connection", Sub: map[string]*cc{
			"count":   {Name: "count", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: commandCountCommand, Categories: "@slow @connection"},
			"info":    {Name: "info", Arity: -2, Flags: commands.Loading | commands.Stale, Proc: commandInfoCommand, Categories: "@slow @connection"},
			"docs":    {Name: "docs", Arity: -2, Flags: commands.Loading | commands.Stale, Proc: commandDocsCommand, Categories: "@slow @connection"},
			"list":    {Name: "list", Arity: -2, Flags: commands.Loading | commands.Stale, Proc: commandListCommand, Categories: "@slow @connection"},
			"getkeys": {Name: "getkeys", Arity: -4, Flags: commands.Loading | commands.Stale, Proc: commandGetkeysCommand, Categories: "@slow @connection"},
			"help":    {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: commandHelpCommand, Categories: "@slow @connection"},
		}},
		&cc{Name: "role", Arity: 1, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.Fast | commands.Sentinel, Proc: roleCommand, Group: "server", Since: "2.8.12", Categories: "@admin @fast @dangerous"},
		&cc{Name: "memory", Arity: -2, Group: "server", Since: "4.0.0", Categories: "@slow", Sub: map[string]*cc{
			"usage": {Name: "usage", Arity: -3, Flags: commands.ReadOnly, FirstKey: 2, LastKey: 2, Proc: memoryUsageCommand, Categories: "@read @slow"},
			"stats": {Name: "stats", Arity: 2, Proc: memoryStatsCommand, Categories: "@slow"},
			"doctor": {Name: "doctor", Arity: 2, Proc: func(c *commands.Ctx) {
				c.W.Verbatim([]byte("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."))
			}, Categories: "@slow"},
			// Redis asks jemalloc to return dirty pages; here the Go heap's
			// free spans go back to the OS (a forced GC first, so the
			// garbage of e.g. a bulk build by scripts is freed).
			"purge":        {Name: "purge", Arity: 2, Proc: func(c *commands.Ctx) { debug.FreeOSMemory(); c.W.OK() }, Categories: "@slow"},
			"malloc-stats": {Name: "malloc-stats", Arity: 2, Proc: func(c *commands.Ctx) { c.W.Verbatim([]byte("Stats not supported for the current allocator")) }, Categories: "@slow"},
			"help":         {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: memoryHelpCommand, Categories: "@slow"},
		}},
	)
}

func configGetCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	var pats []string
	for _, a := range ctx.Args[2:] {
		pats = append(pats, string(a))
	}
	pairs := s.Cfg.Get(pats...)
	ctx.W.MapLen(len(pairs))
	for _, p := range pairs {
		ctx.W.BulkString(p[0])
		ctx.W.BulkString(p[1])
	}
}

func configSetCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	if len(ctx.Args)%2 != 0 {
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	var pairs [][2]string
	for i := 2; i+1 < len(ctx.Args); i += 2 {
		pairs = append(pairs, [2]string{string(ctx.Args[i]), string(ctx.Args[i+1])})
	}
	if err := s.Cfg.Set(pairs); err != nil {
		var se *config.SetError
		if errors.As(err, &se) {
			ctx.W.Error(se.Msg)
		} else {
			ctx.W.Error("ERR " + err.Error())
		}
		return
	}
	ctx.W.OK()
}

func configResetstatCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	s.stats.cmdStats = map[string]*cmdStat{}
	s.stats.cmdByPtr = nil
	s.stats.errStats = map[string]int64{}
	s.stats.commands = 0
	s.stats.totalErrorReplies = 0
	s.stats.expiredKeys = 0
	s.stats.evictedKeys = 0
	s.ks.ExpiredKeys = 0
	s.ks.KeyspaceHits = 0
	s.ks.KeyspaceMiss = 0
	s.stats.connsReceived.Store(0)
	s.stats.rejectedConns.Store(0)
	s.stats.netIn.Store(0)
	s.stats.netOut.Store(0)
	s.stats.peakMemory = 0
	ctx.W.OK()
}

func configRewriteCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	if s.Cfg.File() == "" {
		ctx.W.Error("ERR The server is running without a config file")
		return
	}
	if err := s.Cfg.Rewrite(); err != nil {
		s.Log.Warn("CONFIG REWRITE failed: " + err.Error())
		ctx.W.Error("ERR Rewriting config file: " + err.Error())
		return
	}
	s.Log.Info("CONFIG REWRITE executed with success.")
	ctx.W.OK()
}

func configHelpCommand(ctx *commands.Ctx) {
	writeHelp(ctx.W, "CONFIG", []string{
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.",
	})
}

func timeCommand(ctx *commands.Ctx) {
	now := time.Now()
	ctx.W.ArrayLen(2)
	ctx.W.BulkString(strconv.FormatInt(now.Unix(), 10))
	ctx.W.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func lastsaveCommand(ctx *commands.Ctx) { ctx.W.Int(cl(ctx).srv.lastSave) }

// LastSave returns the unix time of the last successful save.
func (s *Server) LastSave() int64 { return s.lastSave }

// SetLastSave records a successful save (persistence).
func (s *Server) SetLastSave(t int64) { s.lastSave = t }

// Dirty returns the number of changes since the last save.
func (s *Server) Dirty() int64 { return s.stats.dirty }

// ResetDirty is called after a successful save.
func (s *Server) ResetDirty(by int64) {
	s.stats.dirty -= by
	if s.stats.dirty < 0 {
		s.stats.dirty = 0
	}
}

func parseFlushMode(ctx *commands.Ctx) bool {
	if len(ctx.Args) > 2 {
		ctx.W.Error(commands.ErrSyntax)
		return false
	}
	if len(ctx.Args) == 2 && !commands.EqualFold(ctx.Args[1], "async") && !commands.EqualFold(ctx.Args[1], "sync") {
		ctx.W.Error(commands.ErrSyntax)
		return false
	}
	return true
}

func flushdbCommand(ctx *commands.Ctx) {
	if !parseFlushMode(ctx) {
		return
	}
	s := cl(ctx).srv
	s.signalFlushedDB(ctx.DB.ID)
	n := ctx.DB.Len()
	ctx.DB.Flush()
	ctx.Dirty += n + 1
	ctx.W.OK()
}

// FlushHooks run after FLUSHALL (persistence saves an empty RDB when save
// points are configured, as Redis does).
var FlushHooks []func(s *Server)

func flushallCommand(ctx *commands.Ctx) {
	if !parseFlushMode(ctx) {
		return
	}
	s := cl(ctx).srv
	s.signalFlushedDB(-1)
	n := 0
	for _, db := range s.ks.DBs {
		n += db.Len()
		db.Flush()
	}
	ctx.Dirty += n + 1
	for _, h := range FlushHooks {
		h(s)
	}
	ctx.W.OK()
}

func swapdbCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	a, ok := commands.GetIntArg(ctx, ctx.Args[1], "ERR invalid first DB index")
	if !ok {
		return
	}
	b, ok := commands.GetIntArg(ctx, ctx.Args[2], "ERR invalid second DB index")
	if !ok {
		return
	}
	n := len(s.ks.DBs)
	if a < 0 || a >= n || b < 0 || b >= n {
		ctx.W.Error(commands.ErrDBIndex)
		return
	}
	s.signalFlushedDB(int(a))
	s.signalFlushedDB(int(b))
	s.ks.Swap(int(a), int(b))
	s.signalFlushedDB(int(a))
	s.signalFlushedDB(int(b))
	// Clients blocked on keys of either DB may now be served.
	for bk := range s.blocking.byKey {
		if bk.db == int(a) || bk.db == int(b) {
			s.SignalKeyReady(bk.db, []byte(bk.key))
		}
	}
	ctx.Dirty++
	ctx.W.OK()
}

func shutdownCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	save, nosave, force, abort := false, false, false, false
	for _, a := range ctx.Args[1:] {
		switch {
		case commands.EqualFold(a, "save"):
			save = true
		case commands.EqualFold(a, "nosave"):
			nosave = true
		case commands.EqualFold(a, "now"):
		case commands.EqualFold(a, "force"):
			force = true
		case commands.EqualFold(a, "abort"):
			abort = true
		default:
			ctx.W.Error(commands.ErrSyntax)
			return
		}
	}
	if (abort && len(ctx.Args) > 2) || (save && nosave) {
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	if abort {
		ctx.W.Error("ERR No shutdown in progress.")
		return
	}
	if err := s.Shutdown(save, nosave, force); err != nil {
		ctx.W.Error("ERR Errors trying to SHUTDOWN. Check logs.")
		return
	}
	// The connection is closed without a reply, as Redis does.
	c.flags |= flagCloseAfterReply
}

func monitorCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	if c.flags&flagMulti != 0 {
		return
	}
	c.flags |= flagMonitor
	c.srv.monitors[c] = struct{}{}
	ctx.W.OK()
}

func objectLookup(ctx *commands.Ctx) *keyspace.Entry {
	e := ctx.DB.Peek(string(ctx.Args[2]))
	if e == nil {
		ctx.W.Null()
	}
	return e
}

// StringEncoding reports OBJECT ENCODING for a string value.
func StringEncoding(v []byte) string {
	if len(v) <= 20 {
		if _, ok := commands.ParseInt(v); ok {
			return "int"
		}
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}

func objectEncodingCommand(ctx *commands.Ctx) {
	e := objectLookup(ctx)
	if e == nil {
		return
	}
	if e.Type == keyspace.TypeString {
		ctx.W.BulkString(commands.StringEncodingOf(e))
		return
	}
	ctx.W.BulkString(e.Coll.Encoding())
}

func objectRefcountCommand(ctx *commands.Ctx) {
	e := objectLookup(ctx)
	if e == nil {
		return
	}
	// Redis shares the integers 0..9999 (OBJ_SHARED_INTEGERS) unless an
	// LRU/LFU maxmemory policy needs per-object access data; shared objects
	// report OBJ_SHARED_REFCOUNT.
	if e.Type == keyspace.TypeString && commands.StringEncodingOf(e) == "int" {
		s := cl(ctx).srv
		pol := s.Cfg.String("maxmemory-policy")
		lruLFU := strings.Contains(pol, "lru") || strings.Contains(pol, "lfu")
		if v, _ := commands.ParseInt(e.Str); v >= 0 && v < 10000 && (s.Cfg.Int("maxmemory") == 0 || !lruLFU) {
			ctx.W.Int(2147483647)
			return
		}
	}
	ctx.W.Int(1)
}

func objectIdletimeCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	e := objectLookup(ctx)
	if e == nil {
		return
	}
	if strings.HasSuffix(s.Cfg.String("maxmemory-policy"), "lfu") {
		ctx.W.Error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
		return
	}
	ctx.W.Int(s.ks.IdleSeconds(e))
}

func objectFreqCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	e := objectLookup(ctx)
	if e == nil {
		return
	}
	if !strings.HasSuffix(s.Cfg.String("maxmemory-policy"), "lfu") {
		ctx.W.Error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
		return
	}
	ctx.W.Int(int64(e.LRU & 0xff))
}

func objectHelpCommand(ctx *commands.Ctx) {
	writeHelp(ctx.W, "OBJECT", []string{
		"ENCODING <key>",
		"    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated with the specified",
		"    <key>.",
	})
}

func roleCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	if RoleReply != nil {
		RoleReply(s, ctx.W)
		return
	}
	ctx.W.ArrayLen(3)
	ctx.W.BulkString("master")
	ctx.W.Int(0)
	ctx.W.ArrayLen(0)
}

// RoleReply is installed by replication / sentinel.
var RoleReply func(s *Server, w *resp.Writer)

// EntryMemUsage estimates the bytes a key uses (MEMORY USAGE).
func EntryMemUsage(e *keyspace.Entry) int64 {
	n := int64(len(e.Key())) + 56
	if e.Type == keyspace.TypeString {
		n += int64(cap(e.Str))
	} else if e.Coll != nil {
		n += e.Coll.MemUsage()
	}
	return n
}

func memoryUsageCommand(ctx *commands.Ctx) {
	if len(ctx.Args) != 3 && len(ctx.Args) != 5 {
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	if len(ctx.Args) == 5 {
		if !commands.EqualFold(ctx.Args[3], "samples") {
			ctx.W.Error(commands.ErrSyntax)
			return
		}
		if _, ok := commands.ParseInt(ctx.Args[4]); !ok {
			ctx.W.Error(commands.ErrNotInt)
			return
		}
	}
	e := ctx.DB.Peek(string(ctx.Args[2]))
	if e == nil {
		ctx.W.Null()
		return
	}
	ctx.W.Int(EntryMemUsage(e))
}

func memoryStatsCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	used := UsedMemory(s)
	keys := 0
	for _, db := range s.ks.DBs {
		keys += db.Len()
	}
	fields := []struct {
		k string
		v int64
	}{
		{"peak.allocated", s.stats.peakMemory}, {"total.allocated", used}, {"startup.allocated", 0},
		{"replication.backlog", 0}, {"clients.slaves", 0}, {"clients.normal", 0}, {"cluster.links", 0},
		{"aof.buffer", 0}, {"lua.caches", 0}, {"functions.caches", 0}, {"overhead.total", 0},
		{"keys.count", int64(keys)}, {"dataset.bytes", used},
	}
	ctx.W.MapLen(len(fields))
	for _, f := range fields {
		ctx.W.BulkString(f.k)
		ctx.W.Int(f.v)
	}
}

func memoryHelpCommand(ctx *commands.Ctx) {
	writeHelp(ctx.W, "MEMORY", []string{
		"DOCTOR", "    Return memory problems reports.",
		"MALLOC-STATS", "    Return internal statistics report from the memory allocator.",
		"PURGE", "    Attempt to purge dirty pages for reclamation by the allocator.",
		"STATS", "    Return information about the memory usage of the server.",
		"USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).",
	})
}

// Slow log.

type slowEntry struct {
	id   int64
	time int64
	us   int64
	args []string
	addr string
	name string
}

type slowlog struct {
	entries []slowEntry // newest first
	nextID  int64
}

func (s *Server) slowlogPush(c *Client, args [][]byte, us int64) {
	if s.slowlogSlower < 0 || us < s.slowlogSlower {
		return
	}
	e := slowEntry{id: s.slowlog.nextID, time: time.Now().Unix(), us: us, addr: c.addr, name: c.name}
	s.slowlog.nextID++
	n := len(args)
	if n > 32 {
		n = 32
	}
	for i := 0; i < n; i++ {
		a := args[i]
		if i == 31 && len(args) > 32 {
			e.args = append(e.args, fmt.Sprintf("... (%d more arguments)", len(args)-31))
			break
		}
		if len(a) > 128 {
			e.args = append(e.args, fmt.Sprintf("%s... (%d more bytes)", a[:128], len(a)-128))
		} else {
			e.args = append(e.args, string(a))
		}
	}
	s.slowlog.entries = append([]slowEntry{e}, s.slowlog.entries...)
	if int64(len(s.slowlog.entries)) > s.slowlogMax {
		s.slowlog.entries = s.slowlog.entries[:max(s.slowlogMax, 0)]
	}
}

func slowlogGetCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	n := int64(10)
	if len(ctx.Args) > 3 {
		ctx.W.Error(commands.WrongArity("slowlog|get"))
		return
	}
	if len(ctx.Args) == 3 {
		v, ok := commands.ParseInt(ctx.Args[2])
		if !ok || v < -1 {
			ctx.W.Error("ERR count should be greater than or equal to -1")
			return
		}
		n = v
		if v == -1 {
			n = int64(len(s.slowlog.entries))
		}
	}
	if n > int64(len(s.slowlog.entries)) {
		n = int64(len(s.slowlog.entries))
	}
	ctx.W.ArrayLen(int(n))
	for _, e := range s.slowlog.entries[:n] {
		ctx.W.ArrayLen(6)
		ctx.W.Int(e.id)
		ctx.W.Int(e.time)
		ctx.W.Int(e.us)
		ctx.W.ArrayLen(len(e.args))
		for _, a := range e.args {
			ctx.W.BulkString(a)
		}
		ctx.W.BulkString(e.addr)
		ctx.W.BulkString(e.name)
	}
}

func slowlogLenCommand(ctx *commands.Ctx) { ctx.W.Int(int64(len(cl(ctx).srv.slowlog.entries))) }
func slowlogResetCommand(ctx *commands.Ctx) {
	cl(ctx).srv.slowlog.entries = nil
	ctx.W.OK()
}
func slowlogHelpCommand(ctx *commands.Ctx) {
	writeHelp(ctx.W, "SLOWLOG", []string{
		"GET [<count>]",
		"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
		"    Entries are made of:",
		"    id, timestamp, time in microseconds, arguments array, client IP and port,",
		"    client name",
		"LEN",
		"    Return the length of the slowlog.",
		"RESET",
		"    Reset the slowlog.",
	})
}

// Latency monitor.

type latencySample struct {
	time int64
	ms   int64
}

type latencyEvent struct {
	samples []latencySample // ring of up to 160
	max     int64
}

type latencyMonitor struct {
	events map[string]*latencyEvent
}

func (s *Server) latencySample(event string, d time.Duration) {
	if s.latencyThreshold <= 0 {
		return
	}
	ms := d.Milliseconds()
	if ms < s.latencyThreshold {
		return
	}
	s.LatencyAdd(event, ms)
}

// LatencyAdd records a latency spike for event (ms).
func (s *Server) LatencyAdd(event string, ms int64) {
	if s.latency.events == nil {
		s.latency.events = map[string]*latencyEvent{}
	}
	ev := s.latency.events[event]
	if ev == nil {
		ev = &latencyEvent{}
		s.latency.events[event] = ev
	}
	now := time.Now().Unix()
	if n := len(ev.samples); n > 0 && ev.samples[n-1].time == now {
		if ms > ev.samples[n-1].ms {
			ev.samples[n-1].ms = ms
		}
	} else {
		ev.samples = append(ev.samples, latencySample{now, ms})
		if len(ev.samples) > 160 {
			ev.samples = ev.samples[1:]
		}
	}
	if ms > ev.max {
		ev.max = ms
	}
}

func latencyLatestCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	names := make([]string, 0, len(s.latency.events))
	for n := range s.latency.events {
		names = append(names, n)
	}
	sort.Strings(names)
	ctx.W.ArrayLen(len(names))
	for _, n := range names {
		ev := s.latency.events[n]
		last := ev.samples[len(ev.samples)-1]
		ctx.W.ArrayLen(4)
		ctx.W.BulkString(n)
		ctx.W.Int(last.time)
		ctx.W.Int(last.ms)
		ctx.W.Int(ev.max)
	}
}

func latencyHistoryCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	ev := s.latency.events[string(ctx.Args[2])]
	if ev == nil {
		ctx.W.ArrayLen(0)
		return
	}
	ctx.W.ArrayLen(len(ev.samples))
	for _, smp := range ev.samples {
		ctx.W.ArrayLen(2)
		ctx.W.Int(smp.time)
		ctx.W.Int(smp.ms)
	}
}

func latencyResetCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	n := 0
	if len(ctx.Args) == 2 {
		n = len(s.latency.events)
		s.latency.events = nil
	} else {
		for _, a := range ctx.Args[2:] {
			if _, ok := s.latency.events[string(a)]; ok {
				delete(s.latency.events, string(a))
				n++
			}
		}
	}
	ctx.W.Int(int64(n))
}

func latencyDoctorCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	if len(s.latency.events) == 0 {
		ctx.W.Verbatim([]byte("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep a little more, Dave.\n"))
		return
	}
	var b strings.Builder
	b.WriteString("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n")
	i := 1
	for n, ev := range s.latency.events {
		fmt.Fprintf(&b, "%d. %s: %d latency spikes (worst %dms).\n", i, n, len(ev.samples), ev.max)
		i++
	}
	ctx.W.Verbatim([]byte(b.String()))
}

func latencyGraphCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	ev := s.latency.events[string(ctx.Args[2])]
	if ev == nil {
		ctx.W.Error("ERR No samples available for event '" + string(ctx.Args[2]) + "'")
		return
	}
	ctx.W.Verbatim([]byte(fmt.Sprintf("%s - high %d ms, low %d ms (all time high %d ms)\n", ctx.Args[2], ev.max, 0, ev.max)))
}

func latencyHistogramCommand(ctx *commands.Ctx) {
	ctx.W.MapLen(0)
}

func latencyHelpCommand(ctx *commands.Ctx) {
	writeHelp(ctx.W, "LATENCY", []string{
		"DOCTOR", "    Return a human readable latency analysis report.",
		"GRAPH <event>", "    Return an ASCII latency graph for the <event> class.",
		"HISTORY <event>", "    Return time-latency samples for the <event> class.",
		"LATEST", "    Return the latest latency samples for all events.",
		"RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
		"    (default: reset all data for all event classes)",
		"HISTOGRAM [COMMAND ...]", "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
		"    If no commands are specified then all histograms are replied.",
	})
}

// Package server is vigil's data server: listeners, clients, the dispatcher
// that runs commands from the table in package commands under one keyspace
// lock, and the commands that need server state (CLIENT, CONFIG, INFO,
// pub/sub, MULTI/WATCH, blocking, MONITOR, SLOWLOG, DEBUG ...).
//
// Concurrency model: each connection has its own goroutine that reads a
// pipelined batch, takes the keyspace lock once for the whole batch, runs it,
// releases the lock and writes the replies with one write. Everything that
// must be totally ordered (commands, MULTI/EXEC, scripts, the replication
// stream, pub/sub delivery order) happens under that lock.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/logging"
)

// Version is the Redis version vigil reports (tools gate features on it).
const Version = "7.0.15"

// VigilVersion is vigil's own version.
const VigilVersion = "0.1.0"

// Server is one vigil data server.
type Server struct {
	Cfg   *config.Config
	Log   *slog.Logger
	LogH  *logging.Handler
	mu    sync.Mutex // the keyspace lock: serialises every command
	ks    *keyspace.Keyspace
	runID string
	start time.Time
	pid   int

	listeners []net.Listener
	unixLn    net.Listener
	port      int // actual TCP port (after port 0)

	clientsMu sync.Mutex
	clients   map[int64]*Client
	nextID    atomic.Int64

	pubsub pubsubState
	// watched keys: db -> key -> clients
	watched map[int]map[string]map[*Client]struct{}
	// blocked clients by db/key, FIFO
	blocking blockingState

	monitors             map[*Client]struct{}
	current              *Client // client whose command is executing (under mu)
	txDepth              int
	activeExpireDisabled bool
	loading              atomic.Bool
	connSettings         atomic.Pointer[connSettings]
	evict                evictionState
	txBuf                []propEntry

	// cached config values read on hot paths (under mu)
	requirePass      string
	protected        bool
	maxClients       int64
	notifyFlags      int
	protoMaxBulk     int64
	queryBufLimit    int64
	slowlogSlower    int64
	slowlogMax       int64
	latencyThreshold int64
	maxMemory        int64 // cached maxmemory, read before every denyoom command
	pauseUntil       time.Time
	pauseWrites      bool

	stats   stats
	slowlog slowlog
	latency latencyMonitor

	shutdownOnce sync.Once
	done         chan struct{}
	lastSave     int64
	nowMs        int64
	lruClock     uint32

	// SafePingError, when set (safe mode, fence.go), is the error Sentinels'
	// PINGs get, so they see this master as down. Under mu.
	SafePingError string

	// ReplExt and PersistExt hold the replication and persistence state
	// of this server (set once at start), so their hot-path lookups are a
	// field load instead of a global map.
	ReplExt, PersistExt any
	// Sentinel is non-nil in Sentinel mode.
	Sentinel any
	// IsReplica reports whether this server replicates from a master.
	IsReplica func() bool

	// Hooks installed by persistence and replication.
	// Writes are propagated in order (under mu) to the sinks of their
	// targets (PropagateTarget, Redis's PROPAGATE_AOF / PROPAGATE_REPL):
	// Propagators get what goes to replicas (the replication stream and
	// backlog), AOFPropagators what goes to the append-only file.
	Propagators    []func(db int, args [][]byte)
	AOFPropagators []func(db int, args [][]byte)
	// BeforeReply hooks run after a batch executed and before its replies
	// are released to clients (under mu): the AOF writes its buffer here
	// under appendfsync everysec/no, and hands it to its writer under
	// always.
	BeforeReply []func()
	// Durable, when set, holds replies until the writes they depend on are
	// fsynced (appendfsync always; durable.go). Under mu.
	Durable Durability
}

// PropagateTarget says where a propagated write goes.
type PropagateTarget uint8

const (
	PropagateAOF  PropagateTarget = 1 << iota // the append-only file
	PropagateRepl                             // replicas (stream and backlog)
	PropagateAll  = PropagateAOF | PropagateRepl
)

type stats struct {
	connsReceived          atomic.Int64
	commands               int64
	rejectedConns          atomic.Int64
	netIn                  atomic.Int64
	netOut                 atomic.Int64
	expiredKeys            int64
	evictedKeys            int64
	pubsubChannels         int64
	totalErrorReplies      int64
	unexpectedErrorReplies int64
	cmdStats               map[string]*cmdStat
	cmdByPtr               map[*commands.Command]*cmdStat
	errStats               map[string]int64
	startCPU               time.Duration
	extra                  map[string]int64
	peakMemory             int64
	dirty                  int64
}

type cmdStat struct {
	calls, usec, rejected, failed int64
}

// New builds a server from a loaded config.
func New(cfg *config.Config, logH *logging.Handler) *Server {
	s := &Server{
		Cfg:      cfg,
		LogH:     logH,
		Log:      slog.New(logH),
		clients:  map[int64]*Client{},
		watched:  map[int]map[string]map[*Client]struct{}{},
		monitors: map[*Client]struct{}{},
		done:     make(chan struct{}),
		start:    time.Now(),
		pid:      os.Getpid(),
		runID:    randomHex(40),
	}
	s.stats.cmdStats = map[string]*cmdStat{}
	s.stats.errStats = map[string]int64{}
	s.pubsub.init()
	s.blocking.init()
	s.ks = keyspace.New(int(cfg.Int("databases")))
	s.nowMs = time.Now().UnixMilli()
	s.ks.Now = func() int64 { return s.nowMs }
	s.ks.LRUClock = func() uint32 { return s.lruClock }
	s.ks.OnExpire = s.onExpire
	s.ks.Locker = s
	s.lastSave = time.Now().Unix()
	s.reloadCachedConfig()
	s.installConfigHooks()
	s.syncEvictionMode()
	s.applyMemoryLimit()
	return s
}

// Keyspace exposes the data (for persistence and replication, under Lock).
func (s *Server) Keyspace() *keyspace.Keyspace { return s.ks }

// Lock takes the keyspace lock.
func (s *Server) Lock() { s.mu.Lock(); s.updateClock() }

// Unlock releases it.
func (s *Server) Unlock() { s.mu.Unlock() }

// RunID is this process's run id.
func (s *Server) RunID() string { return s.runID }

// Port is the TCP port actually bound.
func (s *Server) Port() int { return s.port }

func (s *Server) updateClock() {
	now := time.Now()
	s.nowMs = now.UnixMilli()
	s.lruClock = uint32(now.UnixMilli()/keyspace.LRUUnitMs) & (1<<24 - 1)
}

func (s *Server) reloadCachedConfig() {
	s.requirePass = s.Cfg.String("requirepass")
	s.protected = s.Cfg.Bool("protected-mode")
	s.maxClients = s.Cfg.Int("maxclients")
	s.notifyFlags = parseNotifyFlags(s.Cfg.String("notify-keyspace-events"))
	s.protoMaxBulk = s.Cfg.Int("proto-max-bulk-len")
	s.queryBufLimit = s.Cfg.Int("client-query-buffer-limit")
	s.slowlogSlower = s.Cfg.Int("slowlog-log-slower-than")
	s.slowlogMax = s.Cfg.Int("slowlog-max-len")
	s.latencyThreshold = s.Cfg.Int("latency-monitor-threshold")
	s.maxMemory = s.Cfg.Int("maxmemory")
	s.connSettings.Store(&connSettings{protected: s.protected, requirePass: s.requirePass, maxClients: s.maxClients})
}

// connSettings are the settings needed to accept a connection, readable
// without the keyspace lock.
type connSettings struct {
	protected   bool
	requirePass string
	maxClients  int64
}

func (s *Server) installConfigHooks() {
	for _, name := range []string{"requirepass", "protected-mode", "maxclients", "notify-keyspace-events",
		"proto-max-bulk-len", "client-query-buffer-limit", "slowlog-log-slower-than", "slowlog-max-len",
		"latency-monitor-threshold"} {
		s.Cfg.OnChange(name, func(old, new string) error {
			s.reloadCachedConfig()
			return nil
		})
	}
	for _, name := range []string{"maxmemory-policy", "lfu-log-factor", "lfu-decay-time"} {
		s.Cfg.OnChange(name, func(old, new string) error {
			s.syncEvictionMode()
			return nil
		})
	}
	s.Cfg.OnChange("maxmemory", func(old, new string) error {
		s.maxMemory = s.Cfg.Int("maxmemory")
		s.applyMemoryLimit()
		s.performEvictions()
		return nil
	})
	s.Cfg.OnChange("loglevel", func(old, new string) error {
		s.LogH.SetLevel(logging.ParseLevel(new))
		return nil
	})
}

// Setting implements commands.Server.
func (s *Server) Setting(name string) int64 {
	switch name {
	case "proto-max-bulk-len":
		return s.protoMaxBulk
	}
	return s.Cfg.Int(name)
}

// Listen binds the configured addresses. A port in use is fatal, with
// Redis's log line.
func (s *Server) Listen() error {
	port := int(s.Cfg.Int("port"))
	binds := s.Cfg.Strings("bind")
	if len(binds) == 0 {
		binds = []string{"*", "-::*"}
	}
	if port != 0 || s.Cfg.Int("port") == 0 {
		for _, b := range binds {
			optional := strings.HasPrefix(b, "-")
			addr := strings.TrimPrefix(b, "-")
			host := addr
			network := "tcp"
			switch addr {
			case "*":
				host, network = "0.0.0.0", "tcp4"
			case "::*":
				host, network = "::", "tcp6"
			}
			p := port
			if p == 0 && s.port != 0 {
				p = s.port
			}
			ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(p)))
			if err != nil {
				if optional || (addr == "::*" && isAddrNotAvail(err)) {
					s.Log.Warn(fmt.Sprintf("Warning: Could not create server TCP listening socket %s:%d: %v", addr, p, errText(err)))
					continue
				}
				s.Log.Warn(fmt.Sprintf("Warning: Could not create server TCP listening socket %s:%d: %s", addr, p, errText(err)))
				s.Log.Warn(fmt.Sprintf("Failed listening on port %d (tcp), aborting.", p))
				s.closeListeners()
				return fmt.Errorf("failed listening on port %d (tcp): %w", p, err)
			}
			if s.port == 0 {
				s.port = ln.Addr().(*net.TCPAddr).Port
			}
			s.listeners = append(s.listeners, ln)
		}
		if len(s.listeners) == 0 && port != 0 {
			s.Log.Warn(fmt.Sprintf("Failed listening on port %d (tcp), aborting.", port))
			return fmt.Errorf("no listening socket")
		}
	}
	if us := s.Cfg.String("unixsocket"); us != "" {
		os.Remove(us)
		ln, err := net.Listen("unix", us)
		if err != nil {
			s.Log.Warn(fmt.Sprintf("Failed opening Unix socket: %s", errText(err)))
			s.closeListeners()
			return err
		}
		perm := s.Cfg.Int("unixsocketperm")
		if perm != 0 {
			os.Chmod(us, os.FileMode(perm))
		}
		s.unixLn = ln
	}
	return nil
}

func isAddrNotAvail(err error) bool {
	return strings.Contains(err.Error(), "address family not supported") || strings.Contains(err.Error(), "cannot assign requested address")
}

func errText(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			t := se.Err.Error()
			if len(t) > 0 {
				return strings.ToUpper(t[:1]) + t[1:]
			}
		}
		return oe.Err.Error()
	}
	return err.Error()
}

func (s *Server) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.listeners = nil
	if s.unixLn != nil {
		s.unixLn.Close()
		os.Remove(s.Cfg.String("unixsocket"))
		s.unixLn = nil
	}
}

// Serve accepts connections until Shutdown.
func (s *Server) Serve() {
	for _, ln := range s.listeners {
		go s.acceptLoop(ln, false)
	}
	if s.unixLn != nil {
		go s.acceptLoop(s.unixLn, true)
	}
	go s.cron()
	<-s.done
}

func (s *Server) acceptLoop(ln net.Listener, unix bool) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.stats.connsReceived.Add(1)
		go s.handleConn(conn, unix)
	}
}

// Done is closed when the server shuts down.
func (s *Server) Done() <-chan struct{} { return s.done }

// ShutdownHook runs (under mu) before exit: persistence saves here.
var ShutdownHooks []func(s *Server, save, nosave bool) error

// Shutdown stops the server. It returns an error when a required save fails
// (the server keeps running, as Redis does).
func (s *Server) Shutdown(save, nosave, force bool) error {
	s.Log.Warn("User requested shutdown...")
	for _, h := range ShutdownHooks {
		if err := h(s, save, nosave); err != nil && !force {
			s.Log.Warn("Errors trying to shut down the server. Check the logs for more information.")
			return err
		}
	}
	s.shutdownOnce.Do(func() {
		s.closeListeners()
		if pf := s.Cfg.String("pidfile"); pf != "" {
			os.Remove(pf)
		}
		s.Log.Warn("Redis is now ready to exit, bye bye...")
		close(s.done)
	})
	return nil
}

func (s *Server) cron() {
	hz := s.Cfg.Int("hz")
	if hz <= 0 {
		hz = 10
	}
	t := time.NewTicker(time.Second / time.Duration(hz))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.Lock()
		// Active expiry: a bounded amount of sampling per DB per tick, like
		// Redis's activeExpireCycle in slow mode.
		effort := s.Cfg.Int("active-expire-effort")
		if effort <= 0 {
			effort = 1
		}
		for _, db := range s.ks.DBs {
			if db.ExpiresLen() > 0 && !s.activeExpireDisabled {
				db.ActiveExpire(int(200 * effort))
			}
			db.Dict().ShrinkIfNeeded()
			db.Dict().RehashFor(time.Millisecond)
		}
		s.blocking.expireTimeouts(s)
		for _, h := range CronHooks {
			h(s)
		}
		s.Unlock()
		s.closeIdleClients()
	}
}

func randomHex(n int) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, n)
	r := make([]byte, n)
	if f, err := os.Open("/dev/urandom"); err == nil {
		f.Read(r)
		f.Close()
	}
	for i := range b {
		b[i] = hexd[r[i]&15]
	}
	return string(b)
}

// onExpire propagates a DEL for an expired key and notifies, as Redis does.
func (s *Server) onExpire(db *keyspace.DB, key string) {
	s.stats.expiredKeys++
	k := []byte(key)
	s.Notify(commands.NotifyExpired, "expired", k, db.ID)
	s.SignalModifiedKey(db.ID, k)
	s.propagate(db.ID, [][]byte{[]byte("DEL"), k})
}

func (s *Server) propagate(db int, args [][]byte) {
	s.propagateTo(db, args, PropagateAll)
}

// propagateTo sends a write to the sinks of targets, or buffers it until
// the end of the transaction or script it belongs to.
func (s *Server) propagateTo(db int, args [][]byte, targets PropagateTarget) {
	if len(s.Propagators) == 0 && len(s.AOFPropagators) == 0 {
		return
	}
	if s.txDepth > 0 {
		cp := make([][]byte, len(args))
		for i, a := range args {
			cp[i] = append([]byte(nil), a...)
		}
		s.txBuf = append(s.txBuf, propEntry{db: db, args: cp, targets: targets})
		return
	}
	s.emit(db, args, targets)
}

func (s *Server) emit(db int, args [][]byte, targets PropagateTarget) {
	if targets&PropagateAOF != 0 {
		for _, p := range s.AOFPropagators {
			p(db, args)
		}
	}
	if targets&PropagateRepl != 0 {
		for _, p := range s.Propagators {
			p(db, args)
		}
	}
}

// WritePidfile writes the pidfile if configured.
func (s *Server) WritePidfile() {
	if pf := s.Cfg.String("pidfile"); pf != "" {
		if err := os.WriteFile(pf, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			s.Log.Warn(fmt.Sprintf("Failed to write PID file: %v", err))
		}
	}
}

// ChdirDataDir changes to the configured dir, as Redis does at start.
func (s *Server) ChdirDataDir() error {
	dir := s.Cfg.String("dir")
	if dir == "" {
		return nil
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("Can't chdir to '%s': %s", dir, errText(err))
	}
	return nil
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

var _ = runtime.NumGoroutine

// SetLoading marks the dataset as loading: commands without the loading
// flag get -LOADING, as in Redis.
func (s *Server) SetLoading(v bool) { s.loading.Store(v) }

// Loading reports whether the dataset is being loaded.
func (s *Server) Loading() bool { return s.loading.Load() }

// IncrStat increments a named counter shown in INFO stats (sync_full,
// sync_partial_ok ...). Lock held.
func (s *Server) IncrStat(name string) {
	if s.stats.extra == nil {
		s.stats.extra = map[string]int64{}
	}
	s.stats.extra[name]++
}

// Stat returns a named counter.
func (s *Server) Stat(name string) int64 { return s.stats.extra[name] }

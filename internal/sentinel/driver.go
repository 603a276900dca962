// Package sentinel is vigil's Sentinel I/O shell: it drives the pure decision
// core (package core) with a clock, TCP links to the monitored instances,
// the config file, user scripts, and serves the SENTINEL command family and
// Sentinel's INFO/ROLE/PUBLISH on a server.Server running in sentinel mode.
//
// Concurrency: one driver goroutine ticks the core every 100 ms, feeds it
// link events and executes its actions. Client commands run in the server's
// connection goroutines with the server lock held; they call the core under
// Sentinel.mu (lock order: server lock, then Sentinel.mu). PersistState is
// always performed under Sentinel.mu before any later action is queued, so a
// vote is on disk before is-master-down-by-addr is answered. Every other
// action goes through a FIFO outbox that only the driver drains; the driver
// never holds Sentinel.mu while it takes the server lock (to publish events).
package sentinel

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/logging"
	"github.com/vigil-kv/vigil/internal/sentinel/core"
	"github.com/vigil-kv/vigil/internal/server"
)

const tickPeriod = 100 * time.Millisecond

// Simulated failure flags (SENTINEL SIMULATE-FAILURE).
const (
	simCrashAfterElection  = 1 << 0
	simCrashAfterPromotion = 1 << 1
)

// Sentinel is one running sentinel: the core, its links, scripts and the
// server it serves commands on.
type Sentinel struct {
	srv *server.Server
	cfg *config.Config
	log *slog.Logger

	start time.Time

	mu        sync.Mutex // guards node, outbox, tiltSince, debug
	node      *core.Node
	outbox    []core.Action
	tiltSince time.Time
	debug     map[string]int64

	kick    chan struct{}
	events  chan core.Input
	stop    chan struct{}
	stopped sync.Once

	links map[core.LinkID]*link // driver goroutine only

	infoMu    sync.Mutex
	infoCache map[string]infoEntry

	scripts *scriptQueue

	simFlags atomic.Int32
	// Exit is called for SIMULATE-FAILURE crashes (os.Exit by default).
	Exit func(code int)
}

type infoEntry struct {
	text string
	at   time.Time
}

// ConfigError is a fatal sentinel configuration error, rendered like Redis's
// "*** FATAL CONFIG FILE ERROR ***" block.
type ConfigError struct {
	Line int
	Text string
	Msg  string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\nReading the configuration file, at line %d\n>>> '%s'\n%s", server.Version, e.Line, e.Text, e.Msg)
}

// ParseState builds the core state from the config's "sentinel" lines, with
// the shell's checks (scripts must exist and be executable).
func ParseState(cfg *config.Config) (*core.State, error) {
	lines := cfg.SentinelLines()
	args := make([][]string, len(lines))
	for i, l := range lines {
		args[i] = l.Args
		if len(l.Args) == 3 {
			switch strings.ToLower(l.Args[0]) {
			case "notification-script", "client-reconfig-script":
				if !executable(l.Args[2]) {
					msg := "Notification script seems non existing or non executable."
					if strings.EqualFold(l.Args[0], "client-reconfig-script") {
						msg = "Client reconfiguration script seems non existing or non executable."
					}
					return nil, &ConfigError{Line: l.Line, Text: "sentinel " + strings.Join(l.Args, " "), Msg: msg}
				}
			}
		}
	}
	st, err := core.ParseConfig(args)
	if err != nil {
		if ce, ok := err.(*core.ConfigError); ok && ce.Line < len(lines) {
			l := lines[ce.Line]
			return nil, &ConfigError{Line: l.Line, Text: "sentinel " + strings.Join(l.Args, " "), Msg: ce.Msg}
		}
		return nil, err
	}
	return st, nil
}

// New prepares a sentinel over srv (already configured from cfg) and
// installs the sentinel command table. Call Start after srv.Listen.
func New(srv *server.Server, st *core.State) *Sentinel {
	s := &Sentinel{
		srv:       srv,
		cfg:       srv.Cfg,
		log:       srv.Log,
		start:     time.Now(),
		kick:      make(chan struct{}, 1),
		events:    make(chan core.Input, 8192),
		stop:      make(chan struct{}),
		links:     map[core.LinkID]*link{},
		infoCache: map[string]infoEntry{},
		debug:     map[string]int64{},
		Exit:      os.Exit,
	}
	s.scripts = newScriptQueue(s)
	srv.Sentinel = s
	var seed [16]byte
	crand.Read(seed[:])
	rnd := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	s.node = core.NewNode(st, core.Options{MyAddr: s.announceAddr(st), Rand: rnd}, s.nowMS())
	installCommands(s)
	return s
}

// announceAddr is the address put in hellos when no announce-ip/port is set:
// the first specific bind address, else the local address the kernel would
// use to reach the first master (no packet is sent), else 127.0.0.1.
func (s *Sentinel) announceAddr(st *core.State) core.Addr {
	a := core.Addr{IP: "127.0.0.1", Port: s.srv.Port()}
	if a.Port == 0 {
		a.Port = int(s.cfg.Int("port"))
	}
	for _, b := range s.cfg.Strings("bind") {
		b = strings.TrimPrefix(b, "-")
		if ip := net.ParseIP(b); ip != nil && !ip.IsUnspecified() {
			a.IP = b
			return a
		}
	}
	if ms := st.Masters(); len(ms) > 0 {
		if c, err := net.Dial("udp", ms[0].Addr().String()); err == nil {
			if ua, ok := c.LocalAddr().(*net.UDPAddr); ok && !ua.IP.IsUnspecified() {
				a.IP = ua.IP.String()
			}
			c.Close()
		}
	}
	return a
}

func (s *Sentinel) nowMS() int64 { return time.Since(s.start).Milliseconds() }

// Start persists a generated myid, logs the startup lines Redis logs
// ("Sentinel ID is ...", "+monitor ..." per master) and starts the driver.
func (s *Sentinel) Start() {
	s.mu.Lock()
	s.collectLocked()
	st := s.node.State()
	s.log.Warn("Sentinel ID is " + st.MyID)
	for _, m := range st.Masters() {
		a := m.Addr()
		s.outbox = append(s.outbox, core.Publish{Type: core.EvMonitor, Level: core.LevelWarning, Master: m.Name(),
			Msg: fmt.Sprintf("master %s %s %d quorum %d", m.Name(), a.IP, a.Port, m.Quorum)})
	}
	s.mu.Unlock()
	s.drain()
	go s.run()
}

// Stop ends the driver and closes every link.
func (s *Sentinel) Stop() {
	s.stopped.Do(func() { close(s.stop) })
}

// input hands an event from a link or script goroutine to the driver.
func (s *Sentinel) input(ev core.Input) {
	select {
	case s.events <- ev:
	case <-s.stop:
	}
}

func (s *Sentinel) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Sentinel) run() {
	t := time.NewTicker(tickPeriod)
	defer t.Stop()
	defer func() {
		for _, l := range s.links {
			l.close()
		}
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.step(core.Tick{Now: s.nowMS()})
			s.scripts.tick()
			s.watchdog()
		case ev := <-s.events:
			s.handleEvent(ev)
			// Take what is already queued in one go.
		more:
			for n := 0; n < 256; n++ {
				select {
				case ev = <-s.events:
					s.handleEvent(ev)
				default:
					break more
				}
			}
		case <-s.kick:
		case r := <-s.scripts.exited:
			s.scripts.collect(r)
		}
		s.drain()
	}
}

func (s *Sentinel) handleEvent(ev core.Input) {
	if ld, ok := ev.(core.LinkDown); ok {
		delete(s.links, ld.Link)
	}
	s.step(ev)
}

// step feeds one input to the core and collects its outputs.
func (s *Sentinel) step(in core.Input) {
	s.mu.Lock()
	s.node.Step(in)
	s.collectLocked()
	s.mu.Unlock()
}

// collectLocked drains the core's Ready: PersistState is performed now (it
// is always first and must precede everything else), the other actions are
// queued for the driver. s.mu held.
func (s *Sentinel) collectLocked() {
	if !s.node.HasReady() {
		return
	}
	rd := s.node.Ready()
	for _, a := range rd.Actions {
		if p, ok := a.(core.PersistState); ok {
			s.persistLocked(p.Lines)
			continue
		}
		s.outbox = append(s.outbox, a)
	}
}

// persistLocked rewrites the config file (fsynced) with the sentinel lines.
func (s *Sentinel) persistLocked(lines [][]string) error {
	out := make([][]string, 0, len(lines))
	for _, l := range lines {
		if len(l) > 0 && strings.EqualFold(l[0], "sentinel") {
			l = l[1:]
		}
		out = append(out, l)
	}
	if err := s.cfg.RewriteSentinel(out); err != nil {
		s.log.Warn("WARNING: Sentinel was not able to save the new configuration on disk!!!: " + errnoText(err))
		return err
	}
	s.log.Info("Sentinel new configuration saved on disk")
	return nil
}

// flushConfigLocked persists the whole current state (FLUSHCONFIG, CONFIG SET).
func (s *Sentinel) flushConfigLocked() error {
	return s.persistLocked(s.node.State().ConfigLines())
}

// drain executes queued actions in order (driver goroutine, or Start).
func (s *Sentinel) drain() {
	for {
		s.mu.Lock()
		acts := s.outbox
		s.outbox = nil
		s.mu.Unlock()
		if len(acts) == 0 {
			return
		}
		for _, a := range acts {
			s.exec(a)
		}
	}
}

func (s *Sentinel) exec(a core.Action) {
	switch a := a.(type) {
	case core.Connect:
		l := newLink(s, a)
		s.links[a.Link] = l
		go l.dial(a)
	case core.Disconnect:
		if l := s.links[a.Link]; l != nil {
			delete(s.links, a.Link)
			l.close()
		}
	case core.SendCommand:
		l := s.links[a.Link]
		if l == nil {
			go s.input(core.LinkDown{Link: a.Link, Reason: "no such link"})
			return
		}
		l.send(a)
	case core.Publish:
		s.event(a.Level, a.Type, a.Msg)
	case core.RunScript:
		s.scripts.add(a.Path, a.Args)
	}
}

var levels = [...]slog.Level{logging.LevelDebug, logging.LevelVerbose, logging.LevelNotice, logging.LevelWarning}

// event logs "type msg" at level and publishes msg on channel type (unless
// debug), as sentinelEvent does; then applies simulated crashes.
func (s *Sentinel) event(level core.Level, typ, msg string) {
	lv := logging.LevelNotice
	if int(level) >= 0 && int(level) < len(levels) {
		lv = levels[level]
	}
	s.log.Log(context.Background(), lv, typ+" "+msg)
	if level != core.LevelDebug {
		s.srv.Lock()
		s.srv.Publish([]byte(typ), []byte(msg))
		s.srv.Unlock()
	}
	switch typ {
	case core.EvTilt:
		s.mu.Lock()
		s.tiltSince = time.Now()
		s.mu.Unlock()
	case core.EvElectedLeader:
		if s.simFlags.Load()&simCrashAfterElection != 0 {
			s.simCrash()
		}
	case core.EvPromotedSlave:
		if s.simFlags.Load()&simCrashAfterPromotion != 0 {
			s.simCrash()
		}
	}
}

func (s *Sentinel) simCrash() {
	s.log.Warn("Sentinel CRASH because of SENTINEL simulate-failure")
	s.Exit(99)
}

// watchdog closes links whose oldest command went unanswered for too long
// (the core then sees LinkDown and reconnects).
func (s *Sentinel) watchdog() {
	now := time.Now()
	for _, l := range s.links {
		if l.stale(now) {
			go l.fail("timeout waiting for a reply")
		}
	}
}

func (s *Sentinel) cacheInfo(a core.Addr, text string) {
	s.infoMu.Lock()
	s.infoCache[a.String()] = infoEntry{text: text, at: time.Now()}
	s.infoMu.Unlock()
}

func (s *Sentinel) cachedInfo(a core.Addr) (infoEntry, bool) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	e, ok := s.infoCache[a.String()]
	return e, ok
}

// ShutdownFlush persists the state at shutdown.
func (s *Sentinel) ShutdownFlush() {
	s.mu.Lock()
	s.flushConfigLocked()
	s.mu.Unlock()
	s.Stop()
}

func errnoText(err error) string {
	var t string
	if pe, ok := err.(*os.PathError); ok {
		t = pe.Err.Error()
	} else if le, ok := err.(*os.LinkError); ok {
		t = le.Err.Error()
	} else {
		t = err.Error()
	}
	if t != "" {
		t = strings.ToUpper(t[:1]) + t[1:]
	}
	return t
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

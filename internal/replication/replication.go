// Package replication implements Redis's master-replica replication:
// the PSYNC2 protocol on both sides, the backlog, REPLCONF, WAIT,
// REPLICAOF, min-replicas-to-write, INFO replication and ROLE.
//
// Files follow Redis's replication.c split by role: master.go (serving
// replicas: PSYNC, full and partial resync, the stream, ACKs, WAIT),
// replica.go (the link to our master: handshake, loading the RDB, applying
// the stream), backlog.go, and this file (shared state, INFO, ROLE).
//
// All state is guarded by the server's keyspace lock, except where a field
// says otherwise: the stream is fed from the propagation hook, which runs
// under that lock, so replicas receive writes in exactly the order they were
// executed.
package replication

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/persist"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/server"
)

// State is one server's replication state.
type State struct {
	srv *server.Server

	replID    string
	replID2   string
	offset    int64 // master_repl_offset
	secondOff int64 // second_repl_offset (-1 when none)
	backlog   *Backlog
	// backlogActive: the stream has started (a replica attached once, or we
	// were a replica); before that writes aren't recorded, as in Redis.
	backlogActive bool
	streamDB      int // db selected in the stream (-1: emit SELECT next)

	replicas []*replicaConn
	// Full syncs (fullsync.go): started jobs, the diskless job waiting to
	// start, and whether a diskless transfer is running.
	jobs         []*syncJob
	waiting      *syncJob
	disklessBusy bool

	// Replica side.
	masterHost     string
	masterPort     int
	link           *masterLink
	linkUp         bool
	linkDownSince  time.Time
	lastIO         time.Time
	syncInProgress bool
	readOffset     int64 // slave_read_repl_offset

	failoverState string // master_failover_state
	fo            *failover

	// haveCached: replID/offset describe a history we hold (a past sync, a
	// demoted master's own stream, or an RDB's repl-id/repl-offset aux
	// fields), so the handshake tries PSYNC <id> <offset+1>; otherwise it
	// asks PSYNC ? -1 like a Redis replica without a cached master.
	haveCached bool
	// restoredDB: repl-stream-db from the RDB we started from.
	restoredDB int

	waiters  []*waiter
	lastPing time.Time
	// minReplicas caches min-replicas-to-write (read on every write).
	minReplicas atomic.Int64

	sm *safeState // safe mode (safemode.go)
}

// Of returns the replication state of s.
func Of(s *server.Server) *State {
	st, _ := s.ReplExt.(*State)
	return st
}

func newReplID() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Install attaches replication to s. Called before the dataset loads, so
// the RDB aux fields can restore replid/offset.
func Install(s *server.Server) *State {
	st := &State{srv: s, replID: newReplID(), replID2: strings.Repeat("0", 40), secondOff: -1, streamDB: -1, failoverState: "no-failover"}
	st.backlog = NewBacklog(s.Cfg.Int("repl-backlog-size"))
	s.ReplExt = st
	st.minReplicas.Store(s.Cfg.Int("min-replicas-to-write"))
	s.Cfg.OnChange("min-replicas-to-write", func(old, new string) error {
		st.minReplicas.Store(s.Cfg.Int("min-replicas-to-write"))
		return nil
	})
	installSafe(st)
	s.Propagators = append(s.Propagators, st.feed)
	s.IsReplica = func() bool { return st.masterHost != "" }
	s.Cfg.OnChange("repl-backlog-size", func(old, new string) error {
		st.backlog.Resize(s.Cfg.Int("repl-backlog-size"))
		return nil
	})
	return st
}

func init() {
	server.InfoSections["replication"] = infoReplication
	server.RoleReply = roleReply
	server.CronHooks = append(server.CronHooks, cron)
	server.DenyWrite = denyWrite
	server.DenyStale = func(s *server.Server, c *server.Client, cmd *commands.Command) string {
		st := Of(s)
		if st == nil || st.masterHost == "" || st.linkUp || c.IsFlaggedMaster() || s.Cfg.Bool("replica-serve-stale-data") {
			return ""
		}
		return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
	}
	persist.ReplAux = func(s *server.Server) [][2]string {
		st := Of(s)
		if st == nil {
			return nil
		}
		db := 0
		if st.masterHost != "" && st.link != nil && st.link.fake != nil {
			db = st.link.fake.DB()
		} else if st.masterHost == "" && st.streamDB >= 0 {
			db = st.streamDB
		}
		return [][2]string{{"repl-stream-db", fmt.Sprint(db)}, {"repl-id", st.replID}, {"repl-offset", fmt.Sprint(st.offset)}}
	}
	SetReplicaofConfig = func(s *server.Server, v string) {
		s.Cfg.SetInternal("replicaof", v)
	}
	persist.OnAux = func(s *server.Server, k, v string) {
		st := Of(s)
		if st == nil {
			return
		}
		switch k {
		case "repl-id":
			if len(v) == 40 {
				st.replID = v
				st.haveCached = true
			}
		case "repl-stream-db":
			fmt.Sscan(v, &st.restoredDB)
		case "repl-offset":
			var n int64
			fmt.Sscan(v, &n)
			st.offset = n
			st.backlog.SetEnd(n)
		}
	}
	type cc = commands.Command
	commands.Register(
		&cc{Name: "replicaof", Arity: 3, Flags: commands.Admin | commands.NoScript | commands.Stale, Proc: replicaofCommand, Group: "server", Since: "5.0.0", Categories: "@admin @slow @dangerous"},
		&cc{Name: "slaveof", Arity: 3, Flags: commands.Admin | commands.NoScript | commands.Stale, Proc: replicaofCommand, Group: "server", Since: "1.0.0", Categories: "@admin @slow @dangerous"},
		&cc{Name: "replconf", Arity: -1, Flags: commands.Admin | commands.NoScript | commands.Loading | commands.Stale | commands.AllowBusy, Proc: replconfCommand, Group: "server", Since: "3.0.0", Categories: "@admin @slow @dangerous"},
		&cc{Name: "psync", Arity: -3, Flags: commands.Admin | commands.NoScript | commands.NoMulti, Proc: psyncCommand, Group: "server", Since: "2.8.0", Categories: "@admin @slow @dangerous"},
		&cc{Name: "sync", Arity: 1, Flags: commands.Admin | commands.NoScript | commands.NoMulti, Proc: syncCommand, Group: "server", Since: "1.0.0", Categories: "@admin @slow @dangerous"},
		&cc{Name: "wait", Arity: 3, Flags: commands.NoScript, Proc: waitCommand, Group: "generic", Since: "3.0.0", Categories: "@slow @connection"},
	)
}

// Offset returns master_repl_offset.
func (st *State) Offset() int64 { return st.offset }

// ReplID returns the current replication id.
func (st *State) ReplID() string { return st.replID }

// IsReplica reports whether this server replicates from a master.
func (st *State) IsReplica() bool { return st.masterHost != "" }

// feed appends a propagated write to the stream (lock held). On a replica
// the stream is the master's, proxied verbatim by the link, so local
// propagation is not fed here.
func (st *State) feed(db int, args [][]byte) {
	// Like Redis, a master without replicas keeps no stream at all until the
	// first replica attaches (master_repl_offset stays 0): no per-write cost.
	if st.masterHost != "" || (!st.backlogActive && len(st.replicas) == 0) {
		return
	}
	var buf []byte
	if db != st.streamDB {
		buf = resp.AppendCommand(buf, "SELECT", fmt.Sprint(db))
		st.streamDB = db
	}
	buf = resp.AppendCommandBytes(buf, args)
	st.writeStream(buf)
	if cur := st.srv.Current(); cur != nil {
		cur.WOff = st.offset
	}
}

// writeStream appends raw stream bytes to the backlog and every replica.
func (st *State) writeStream(buf []byte) {
	st.backlogActive = true
	st.backlog.Write(buf)
	st.offset += int64(len(buf))
	for _, r := range st.replicas {
		if r.state == stateOnline {
			r.c.Push(buf)
		}
	}
	if len(st.jobs) > 0 {
		st.collect(buf)
	}
}

func denyWrite(s *server.Server, c *server.Client, cmd *commands.Command) string {
	st := Of(s)
	if st == nil {
		return ""
	}
	if st.masterHost != "" && !c.IsFlaggedMaster() && s.Cfg.Bool("replica-read-only") {
		return "READONLY You can't write against a read only replica."
	}
	if st.masterHost == "" {
		if n := st.minReplicas.Load(); n > 0 && s.Cfg.Int("min-replicas-max-lag") > 0 {
			if st.goodReplicas() < int(n) {
				return "NOREPLICAS Not enough good replicas to write."
			}
		}
	}
	if SafeModeDeny != nil {
		return SafeModeDeny(st, c, cmd)
	}
	return ""
}

// SafeModeDeny is installed by safe mode (fencing).
var SafeModeDeny func(st *State, c *server.Client, cmd *commands.Command) string

func (st *State) goodReplicas() int {
	maxLag := st.srv.Cfg.Int("min-replicas-max-lag")
	n := 0
	now := time.Now()
	for _, r := range st.replicas {
		if r.state == stateOnline && now.Sub(r.ackTime) <= time.Duration(maxLag)*time.Second {
			n++
		}
	}
	return n
}

func infoReplication(s *server.Server, b *strings.Builder) {
	st := Of(s)
	l := func(k string, v any) { fmt.Fprintf(b, "%s:%v\r\n", k, v) }
	b.WriteString("# Replication\r\n")
	if st == nil {
		l("role", "master")
		l("connected_slaves", 0)
		return
	}
	now := time.Now()
	if st.masterHost != "" {
		l("role", "slave")
		l("master_host", st.masterHost)
		l("master_port", st.masterPort)
		if st.linkUp {
			l("master_link_status", "up")
		} else {
			l("master_link_status", "down")
		}
		io := int64(-1)
		if !st.lastIO.IsZero() {
			io = int64(now.Sub(st.lastIO).Seconds())
		}
		l("master_last_io_seconds_ago", io)
		l("master_sync_in_progress", b2i(st.syncInProgress))
		l("slave_read_repl_offset", st.readOffset)
		l("slave_repl_offset", st.offset)
		if st.syncInProgress && st.link != nil {
			total, read := st.link.syncTotal.Load(), st.link.syncRead.Load()
			l("master_sync_total_bytes", total)
			l("master_sync_read_bytes", read)
			l("master_sync_left_bytes", total-read)
			perc := 0.0
			if total > 0 {
				perc = float64(read) * 100 / float64(total)
			}
			l("master_sync_perc", fmt.Sprintf("%.2f", perc))
			l("master_sync_last_io_seconds_ago", 0)
		}
		if !st.linkUp {
			since := int64(-1)
			if !st.linkDownSince.IsZero() {
				since = int64(now.Sub(st.linkDownSince).Seconds())
			}
			l("master_link_down_since_seconds", since)
		}
		l("slave_priority", s.Cfg.Int("replica-priority"))
		l("slave_read_only", b2i(s.Cfg.Bool("replica-read-only")))
		l("replica_announced", b2i(s.Cfg.Bool("replica-announced")))
	} else {
		l("role", "master")
	}
	online := 0
	for _, r := range st.replicas {
		if r.state != stateNone {
			online++
		}
	}
	l("connected_slaves", online)
	if st.masterHost == "" {
		if n := s.Cfg.Int("min-replicas-to-write"); n > 0 {
			l("min_slaves_good_slaves", st.goodReplicas())
		}
	}
	i := 0
	for _, r := range st.replicas {
		if r.state == stateNone {
			continue
		}
		lag := int64(now.Sub(r.ackTime).Seconds())
		fmt.Fprintf(b, "slave%d:ip=%s,port=%d,state=%s,offset=%d,lag=%d\r\n", i, r.ip, r.port, r.state.String(), r.ackOff, lag)
		i++
	}
	if SafeInfo != nil {
		SafeInfo(st, b)
	}
	l("master_failover_state", st.failoverState)
	l("master_replid", st.replID)
	l("master_replid2", st.replID2)
	l("master_repl_offset", st.offset)
	l("second_repl_offset", st.secondOff)
	l("repl_backlog_active", b2i(st.backlogActive))
	l("repl_backlog_size", st.backlog.Size())
	l("repl_backlog_first_byte_offset", st.backlog.FirstOffset())
	l("repl_backlog_histlen", st.backlog.HistLen())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func roleReply(s *server.Server, w *resp.Writer) {
	st := Of(s)
	if st != nil && st.masterHost != "" {
		w.ArrayLen(5)
		w.BulkString("slave")
		w.BulkString(st.masterHost)
		w.Int(int64(st.masterPort))
		state := "connect"
		switch {
		case st.linkUp:
			state = "connected"
		case st.syncInProgress:
			state = "sync"
		case st.link != nil && st.link.handshaking:
			state = "handshake"
		case st.link != nil && st.link.connecting:
			state = "connecting"
		}
		w.BulkString(state)
		off := st.offset
		if !st.linkUp && !st.syncInProgress && st.offset == 0 {
			off = -1
		}
		w.Int(off)
		return
	}
	w.ArrayLen(3)
	w.BulkString("master")
	if st == nil {
		w.Int(0)
		w.ArrayLen(0)
		return
	}
	w.Int(st.offset)
	var online []*replicaConn
	for _, r := range st.replicas {
		if r.state == stateOnline {
			online = append(online, r)
		}
	}
	w.ArrayLen(len(online))
	for _, r := range online {
		w.ArrayLen(3)
		w.BulkString(r.ip)
		w.BulkString(fmt.Sprint(r.port))
		w.BulkString(fmt.Sprint(r.ackOff))
	}
}

func cron(s *server.Server) {
	st := Of(s)
	if st == nil {
		return
	}
	st.masterCron()
	st.updateFailover()
}

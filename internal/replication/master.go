package replication

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/server"
)

// The master side: replicas connect as clients, announce themselves with
// REPLCONF, ask for the stream with PSYNC, get either the backlog from
// their offset (+CONTINUE) or a snapshot (+FULLRESYNC) followed by the
// stream, and report their offset with REPLCONF ACK every second.

type replState int

const (
	stateNone replState = iota
	// stateWaitStart: waiting for a diskless sync to start (Redis's
	// WAIT_BGSAVE_START; shown as wait_bgsave like Redis does).
	stateWaitStart
	stateWaitBgsave
	stateSendBulk
	stateOnline
)

func (s replState) String() string {
	switch s {
	case stateWaitStart, stateWaitBgsave:
		return "wait_bgsave"
	case stateSendBulk:
		return "send_bulk"
	case stateOnline:
		return "online"
	}
	return "none"
}

type replicaConn struct {
	st           *State
	c            *server.Client
	ip           string
	port         int
	capaEOF      bool
	capaPSYNC2   bool
	state        replState
	psync        bool     // asked with PSYNC (SYNC gets no +FULLRESYNC)
	job          *syncJob // the full sync it is part of (fullsync.go)
	ackOff       int64
	ackTime      time.Time
	lastDataTime time.Time
	// waitAck: a diskless ($EOF:) snapshot was sent; the stream starts at
	// the replica's first REPLCONF ACK, so it can't arrive in the same read
	// as the EOF mark (Redis 7's repl_start_cmd_stream_on_ack).
	waitAck bool
}

func replicaOf(c *server.Client) *replicaConn {
	r, _ := c.Repl.(*replicaConn)
	if r == nil {
		r = &replicaConn{c: c}
		host, _, _ := net.SplitHostPort(c.Addr())
		r.ip = host
		c.Repl = r
	}
	return r
}

func replconfCommand(ctx *commands.Ctx) {
	s := server.ServerOf(ctx)
	c := server.ClientOf(ctx)
	st := Of(s)
	if len(ctx.Args)%2 == 0 {
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	r := replicaOf(c)
	for i := 1; i+1 < len(ctx.Args); i += 2 {
		opt := strings.ToLower(string(ctx.Args[i]))
		val := string(ctx.Args[i+1])
		switch opt {
		case "listening-port":
			p, err := strconv.Atoi(val)
			if err != nil {
				ctx.W.Error(commands.ErrNotInt)
				return
			}
			r.port = p
		case "ip-address":
			r.ip = val
		case "capa":
			switch strings.ToLower(val) {
			case "eof":
				r.capaEOF = true
			case "psync2":
				r.capaPSYNC2 = true
			}
		case "ack":
			// No reply: the replica doesn't read one.
			off, _ := strconv.ParseInt(val, 10, 64)
			if off > r.ackOff {
				r.ackOff = off
			}
			r.ackTime = time.Now()
			if st != nil && st.fo != nil {
				defer st.updateFailover()
			}
			if r.waitAck && r.state == stateSendBulk {
				st.goOnline(r)
			}
			if st != nil {
				st.checkWaiters()
				st.safeOnAck()
			}
			return
		case "getack":
			// Handled on the replica side by the link.
			return
		case "rdb-only", "rdb-filter-only", "rdb-channel":
		default:
			ctx.W.Error("ERR Unrecognized REPLCONF option: " + string(ctx.Args[i]))
			return
		}
	}
	ctx.W.OK()
}

func psyncCommand(ctx *commands.Ctx) {
	s := server.ServerOf(ctx)
	c := server.ClientOf(ctx)
	st := Of(s)
	if c.IsReplicaClient() {
		return
	}
	if len(ctx.Args) > 3 {
		if !commands.EqualFold(ctx.Args[3], "failover") {
			ctx.W.Error(commands.ErrSyntax)
			return
		}
		// FAILOVER from our master: it hands over to us.
		if string(ctx.Args[1]) != st.replID {
			ctx.W.Error("ERR PSYNC FAILOVER replid must match my replid.")
			return
		}
		if st.masterHost != "" {
			st.SetNoMaster()
			setReplicaofConfig(s, "")
			s.Log.Info(fmt.Sprintf("MASTER MODE enabled (failover request from '%s')", c.Addr()))
		}
	}
	if st.failoverState != foNone {
		ctx.W.Error("NOMASTERLINK Can't SYNC while failing over")
		return
	}
	if st.masterHost != "" && !st.linkUp {
		ctx.W.Error("NOMASTERLINK Can't SYNC while not connected with my master")
		return
	}
	id := string(ctx.Args[1])
	off, err := strconv.ParseInt(string(ctx.Args[2]), 10, 64)
	if err != nil {
		off = -1
	}
	r := replicaOf(c)
	r.st = st
	c.MarkReplica()
	r.ackTime = time.Now()
	st.backlogActive = true
	// Partial resync: the id is ours (or our previous one up to the switch
	// offset, PSYNC2) and the backlog still holds everything after off-1.
	if off > 0 && (id == st.replID || (id == st.replID2 && off <= st.secondOff)) {
		if data, ok := st.backlog.From(off - 1); ok {
			var hdr string
			if r.capaPSYNC2 {
				hdr = "+CONTINUE " + st.replID + "\r\n"
			} else {
				hdr = "+CONTINUE\r\n"
			}
			r.state = stateOnline
			st.replicas = append(st.replicas, r)
			c.Push(append([]byte(hdr), data...))
			s.Log.Info(fmt.Sprintf("Partial resynchronization request from %s accepted. Sending %d bytes of backlog starting from offset %d.", r.desc(), len(data), off))
			s.IncrStat("sync_partial_ok")
			return
		}
	}
	if id != "?" {
		s.IncrStat("sync_partial_err")
	}
	if msg := st.safeRefuseFullSync(id, off); msg != "" {
		// safemode.go: don't wipe a replica that holds more than we do.
		st.removeReplica(r)
		ctx.W.Error(msg)
		return
	}
	st.startFullSync(r, true)
}

func syncCommand(ctx *commands.Ctx) {
	s := server.ServerOf(ctx)
	c := server.ClientOf(ctx)
	st := Of(s)
	if c.IsReplicaClient() {
		return
	}
	if st.masterHost != "" && !st.linkUp {
		ctx.W.Error("NOMASTERLINK Can't SYNC while not connected with my master")
		return
	}
	r := replicaOf(c)
	r.st = st
	c.MarkReplica()
	r.ackTime = time.Now()
	st.backlogActive = true
	st.startFullSync(r, false)
}

func (r *replicaConn) desc() string {
	return fmt.Sprintf("%s:%d", r.ip, r.port)
}

func (st *State) removeReplica(r *replicaConn) {
	for i, x := range st.replicas {
		if x == r {
			st.replicas = append(st.replicas[:i:i], st.replicas[i+1:]...)
			break
		}
	}
	if r.job != nil {
		r.job.remove(r)
	}
	r.state = stateNone
	r.waitAck = false
}

func init() {
	server.ClientCloseHooks = append(server.ClientCloseHooks, func(s *server.Server, c *server.Client) {
		r, ok := c.Repl.(*replicaConn)
		if !ok {
			return
		}
		st := Of(s)
		if st == nil {
			return
		}
		s.Lock()
		if r.state != stateNone {
			s.Log.Info(fmt.Sprintf("Connection with replica %s lost.", r.desc()))
		}
		st.removeReplica(r)
		st.checkWaiters()
		s.Unlock()
	})
}

func (st *State) masterCron() {
	if len(st.replicas) == 0 {
		return
	}
	st.jobsCron()
	now := time.Now()
	period := time.Duration(st.srv.Cfg.Int("repl-ping-replica-period")) * time.Second
	if st.masterHost == "" && now.Sub(st.lastPing) >= period {
		st.lastPing = now
		st.writeStream(resp.AppendCommand(nil, "PING"))
	}
	timeout := time.Duration(st.srv.Cfg.Int("repl-timeout")) * time.Second
	var dead []*replicaConn
	for _, r := range st.replicas {
		if (r.state == stateOnline || r.waitAck) && now.Sub(r.ackTime) > timeout {
			dead = append(dead, r)
		}
	}
	for _, r := range dead {
		st.srv.Log.Warn(fmt.Sprintf("Disconnecting timedout replica (streaming sync): %s", r.desc()))
		st.removeReplica(r)
		r.c.Kill()
	}
}

// WAIT: block until numreplicas acknowledged the current offset.

type waiter struct {
	c        *server.Client
	target   int64
	need     int
	deadline time.Time
}

func (st *State) ackedAtLeast(off int64) int {
	n := 0
	for _, r := range st.replicas {
		if r.state == stateOnline && r.ackOff >= off {
			n++
		}
	}
	return n
}

func waitCommand(ctx *commands.Ctx) {
	s := server.ServerOf(ctx)
	c := server.ClientOf(ctx)
	st := Of(s)
	if st.masterHost != "" {
		ctx.W.Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
		return
	}
	n, ok := commands.ParseInt(ctx.Args[1])
	if !ok {
		ctx.W.Error(commands.ErrNotInt)
		return
	}
	ms, ok := commands.ParseInt(ctx.Args[2])
	if !ok {
		ctx.W.Error("ERR timeout is not an integer or out of range")
		return
	}
	if ms < 0 {
		ctx.W.Error("ERR timeout is negative")
		return
	}
	// Like Redis, wait for the offset of this client's last write, not for
	// the master's current offset (which GETACKs and other clients move).
	target := c.WOff
	acked := st.ackedAtLeast(target)
	if int64(acked) >= n || c.NoBlock() {
		ctx.W.Int(int64(acked))
		return
	}
	w := &waiter{c: c, target: target, need: int(n)}
	if ms > 0 {
		w.deadline = time.Now().Add(time.Duration(ms) * time.Millisecond)
	}
	st.waiters = append(st.waiters, w)
	ctx.Block = &commands.BlockRequest{Timeout: time.Duration(ms) * time.Millisecond, OnTimeout: func(wr *resp.Writer) {
		st.dropWaiter(c)
		wr.Int(int64(st.ackedAtLeast(target)))
	}}
	// Ask replicas for an ACK now rather than waiting for their 1 s tick.
	st.writeStream(resp.AppendCommand(nil, "REPLCONF", "GETACK", "*"))
}

func (st *State) dropWaiter(c *server.Client) {
	for i, w := range st.waiters {
		if w.c == c {
			st.waiters = append(st.waiters[:i:i], st.waiters[i+1:]...)
			return
		}
	}
}

func (st *State) checkWaiters() {
	if len(st.waiters) == 0 {
		return
	}
	keep := st.waiters[:0]
	for _, w := range st.waiters {
		n := st.ackedAtLeast(w.target)
		if n >= w.need {
			st.srv.UnblockWith(w.c, func(wr *resp.Writer) { wr.Int(int64(n)) })
			continue
		}
		keep = append(keep, w)
	}
	st.waiters = keep
}

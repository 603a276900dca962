package replication

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/persist"
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
	stateWaitBgsave
	stateSendBulk
	stateOnline
)

func (s replState) String() string {
	switch s {
	case stateWaitBgsave:
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
	pending      []byte // stream bytes produced while the snapshot is sent
	ackOff       int64
	ackTime      time.Time
	lastDataTime time.Time
	// waitAck: a diskless ($EOF:) snapshot was sent; the stream starts at
	// the replica's first REPLCONF ACK, so it can't arrive in the same read
	// as the EOF mark (Redis 7's repl_start_cmd_stream_on_ack).
	waitAck bool
}

func (r *replicaConn) send(buf []byte) {
	switch r.state {
	case stateOnline:
		r.c.Push(buf)
	case stateWaitBgsave, stateSendBulk:
		r.pending = append(r.pending, buf...)
	}
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
				r.waitAck = false
				r.state = stateOnline
				if pend := r.pending; len(pend) > 0 {
					r.pending = nil
					c.Push(pend)
				}
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

// startFullSync captures a snapshot now (lock held) and sends it from a
// goroutine; stream bytes produced meanwhile wait in r.pending and follow
// the snapshot, so the replica sees exactly the writes after the snapshot.
func (st *State) startFullSync(r *replicaConn, psync bool) {
	s := st.srv
	s.IncrStat("sync_full")
	snap := s.Keyspace().BeginSnapshot()
	offset := st.offset
	id := st.replID
	// The next write must start with SELECT for this replica.
	st.streamDB = -1
	r.state = stateWaitBgsave
	r.pending = nil
	st.replicas = append(st.replicas, r)
	ps := persist.Of(s)
	var opt persist.WriteOptions
	if ps != nil {
		opt = ps.WriteOptionsFor()
	} else {
		opt = persist.WriteOptions{Checksum: true}
	}
	// The stream continues in repl-stream-db: ours starts with a SELECT
	// (streamDB = -1 below), a proxied one is in our master's current DB.
	streamDB := 0
	if st.masterHost != "" && st.link != nil && st.link.fake != nil {
		streamDB = st.link.fake.DB()
	}
	opt.Aux = [][2]string{{"repl-stream-db", strconv.Itoa(streamDB)}, {"repl-id", id}, {"repl-offset", strconv.FormatInt(offset, 10)}}
	diskless := r.capaEOF && s.Cfg.Bool("repl-diskless-sync")
	dir := s.Cfg.String("dir")
	if diskless {
		s.Log.Info(fmt.Sprintf("Replica %s asks for synchronization", r.desc()))
		s.Log.Info("Starting BGSAVE for SYNC with target: replicas sockets")
	} else {
		s.Log.Info(fmt.Sprintf("Replica %s asks for synchronization", r.desc()))
		s.Log.Info("Starting BGSAVE for SYNC with target: disk")
	}
	c := r.c
	go func() {
		err := st.sendSnapshot(c, snap, opt, psync, id, offset, diskless, dir)
		s.Lock()
		snap.Release()
		if err != nil {
			s.Log.Warn(fmt.Sprintf("Failed to send the snapshot to replica %s: %v", r.desc(), err))
			st.removeReplica(r)
			c.UnlockWriter()
			c.Kill()
			s.Unlock()
			return
		}
		r.ackTime = time.Now()
		c.UnlockWriter()
		if diskless && r.capaPSYNC2 {
			// The stream waits for the replica's first ACK.
			r.state = stateSendBulk
			r.waitAck = true
		} else {
			r.state = stateOnline
			pend := r.pending
			r.pending = nil
			if len(pend) > 0 {
				c.Push(pend)
			}
		}
		s.Log.Info(fmt.Sprintf("Synchronization with replica %s succeeded", r.desc()))
		s.Unlock()
	}()
}

func (st *State) sendSnapshot(c *server.Client, snap *keyspace.Snapshot, opt persist.WriteOptions, psync bool, id string, offset int64, diskless bool, dir string) error {
	c.LockWriter()
	conn := c.Conn()
	conn.SetWriteDeadline(time.Now().Add(time.Duration(st.srv.Cfg.Int("repl-timeout")) * time.Second * 6))
	defer conn.SetWriteDeadline(time.Time{})
	bw := bufio.NewWriterSize(conn, 1<<16)
	if psync {
		fmt.Fprintf(bw, "+FULLRESYNC %s %d\r\n", id, offset)
	}
	if diskless {
		mark := newReplID()
		fmt.Fprintf(bw, "$EOF:%s\r\n", mark)
		if _, err := persist.WriteSnapshot(bw, snap, opt); err != nil {
			return err
		}
		bw.WriteString(mark)
		return bw.Flush()
	}
	tmp := filepath.Join(dir, fmt.Sprintf("temp-repl-%d-%d.rdb", os.Getpid(), time.Now().UnixNano()))
	// While the file is written the replica hears a newline every second,
	// which keeps its repl-timeout from firing (Redis does the same).
	if err := bw.Flush(); err != nil {
		return err
	}
	saved := make(chan error, 1)
	go func() {
		_, err := persist.SaveFile(tmp, snap, opt)
		saved <- err
	}()
	tick := time.NewTicker(time.Second)
	var err error
wait:
	for {
		select {
		case err = <-saved:
			break wait
		case <-tick.C:
			conn.Write([]byte("\n"))
		}
	}
	tick.Stop()
	if err != nil {
		os.Remove(tmp)
		return err
	}
	defer os.Remove(tmp)
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, _ := f.Stat()
	fmt.Fprintf(bw, "$%d\r\n", fi.Size())
	if _, err := io.Copy(bw, f); err != nil {
		return err
	}
	return bw.Flush()
}

func (st *State) removeReplica(r *replicaConn) {
	for i, x := range st.replicas {
		if x == r {
			st.replicas = append(st.replicas[:i:i], st.replicas[i+1:]...)
			break
		}
	}
	r.state = stateNone
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

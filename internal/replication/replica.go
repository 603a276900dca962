package replication

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/gcgoal"
	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/lowprio"
	"github.com/vigil-kv/vigil/internal/persist"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/server"
)

// The replica side: one goroutine per master link runs the handshake
// (PING, AUTH, REPLCONF listening-port/ip-address/capa, PSYNC), loads the
// snapshot on +FULLRESYNC, then applies the stream through a
// connection-less client flagged as master, proxying the exact bytes to its
// own backlog and sub-replicas so chained replicas share the master's
// offsets. How the snapshot is loaded follows repl-diskless-load
// (loadSnapshot). It reconnects until REPLICAOF points elsewhere.

type masterLink struct {
	st          *State
	host        string
	port        int
	stop        chan struct{}
	conn        net.Conn
	connecting  bool
	handshaking bool
	syncTotal   atomic.Int64 // written by the link goroutine, read by INFO
	syncRead    atomic.Int64
	fake        *server.Client
}

// SetMaster starts replicating from host:port (lock held).
func (st *State) SetMaster(host string, port int) {
	s := st.srv
	if st.link != nil {
		st.link.close()
	}
	wasMaster := st.masterHost == ""
	st.masterHost, st.masterPort = host, port
	st.linkUp = false
	st.linkDownSince = time.Now()
	s.Keyspace().NoExpireDelete = true
	s.LogH.SetRole('S')
	if wasMaster {
		// Our own history becomes the cached master: PSYNC with our replid
		// and offset lets a new master that shares history (PSYNC2) continue
		// partially.
		st.streamDB = -1
	}
	l := &masterLink{st: st, host: host, port: port, stop: make(chan struct{})}
	st.link = l
	s.Log.Info(fmt.Sprintf("Connecting to MASTER %s:%d", host, port))
	go l.run()
}

// SetNoMaster turns a replica into a master (REPLICAOF NO ONE) (lock held).
func (st *State) SetNoMaster() {
	s := st.srv
	if st.masterHost == "" {
		return
	}
	if st.link != nil {
		st.link.close()
		st.link = nil
	}
	st.masterHost, st.masterPort = "", 0
	st.linkUp = false
	st.syncInProgress = false
	s.Keyspace().NoExpireDelete = false
	s.LogH.SetRole('M')
	// PSYNC2: remember the old history so replicas of the old master can
	// continue from us partially.
	st.replID2 = st.replID
	st.secondOff = st.offset + 1
	st.replID = newReplID()
	st.streamDB = -1
	s.Log.Info(fmt.Sprintf("Setting secondary replication ID to %s, valid up to offset: %d. New replication ID is %s", st.replID2, st.secondOff, st.replID))
	// Sub-replicas learn the new id on their next PSYNC: drop them so they
	// reconnect (+CONTINUE thanks to replid2).
	st.dropReplicas()
}

// dropReplicas disconnects every replica of ours (lock held).
func (st *State) dropReplicas() {
	for _, r := range append([]*replicaConn(nil), st.replicas...) {
		st.removeReplica(r)
		r.c.Kill()
	}
}

func (l *masterLink) close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	if l.conn != nil {
		l.conn.Close()
	}
}

func (l *masterLink) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *masterLink) run() {
	s := l.st.srv
	backoff := 100 * time.Millisecond
	for !l.stopped() {
		err := l.session()
		if l.stopped() {
			return
		}
		s.Lock()
		if l.st.link == l {
			if l.st.linkUp {
				s.Log.Info("Connection with master lost.")
				l.st.linkDownSince = time.Now()
			}
			l.st.linkUp = false
			l.st.syncInProgress = false
		}
		s.Unlock()
		if err != nil {
			s.Log.Warn(fmt.Sprintf("Master link error: %v", err))
		}
		select {
		case <-l.stop:
			return
		case <-time.After(backoff):
		}
		if backoff < time.Second {
			backoff *= 2
		}
	}
}

type lineConn struct {
	conn net.Conn
	br   *bufio.Reader
}

func (lc *lineConn) cmd(timeout time.Duration, args ...string) (string, error) {
	lc.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := lc.conn.Write(resp.AppendCommand(nil, args...)); err != nil {
		return "", err
	}
	return lc.readLine()
}

func (lc *lineConn) readLine() (string, error) {
	for {
		line, err := lc.br.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			// Masters send newlines as keepalives while preparing the RDB.
			continue
		}
		return line, nil
	}
}

// session is one connection to the master, from dial to disconnect.
func (l *masterLink) session() error {
	st := l.st
	s := st.srv
	timeout := time.Duration(s.Cfg.Int("repl-timeout")) * time.Second
	s.Lock()
	l.connecting = true
	s.Unlock()
	d := net.Dialer{Timeout: timeout}
	if src := s.Cfg.String("bind-source-addr"); src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	conn, err := d.Dial("tcp", net.JoinHostPort(l.host, strconv.Itoa(l.port)))
	s.Lock()
	l.connecting = false
	if l.stopped() {
		s.Unlock()
		if conn != nil {
			conn.Close()
		}
		return nil
	}
	if err != nil {
		s.Unlock()
		return fmt.Errorf("Error condition on socket for SYNC: %v", err)
	}
	l.conn = conn
	l.handshaking = true
	s.Log.Info("MASTER <-> REPLICA sync started")
	masterAuth, masterUser := s.Cfg.String("masterauth"), s.Cfg.String("masteruser")
	announceIP := s.Cfg.String("replica-announce-ip")
	announcePort := s.Cfg.Int("replica-announce-port")
	port := int64(s.Port())
	if announcePort != 0 {
		port = announcePort
	}
	cachedID, cachedOff, haveCached := st.replID, st.offset, st.haveCached
	failingOver := st.failoverState == foInProgress
	s.Unlock()
	defer conn.Close()
	lc := &lineConn{conn: conn, br: bufio.NewReaderSize(conn, 1<<16)}
	step := func(args ...string) (string, error) {
		r, err := lc.cmd(timeout, args...)
		if err != nil {
			return "", err
		}
		return r, nil
	}
	r, err := step("PING")
	if err != nil {
		return err
	}
	if strings.HasPrefix(r, "-") && !strings.HasPrefix(r, "-NOAUTH") && !strings.HasPrefix(r, "-NOPERM") && !strings.HasPrefix(r, "-ERR operation not permitted") {
		return fmt.Errorf("Error reply to PING from master: '%s'", r)
	}
	s.Log.Info("Master replied to PING, replication can continue...")
	if masterAuth != "" {
		var args []string
		if masterUser != "" {
			args = []string{"AUTH", masterUser, masterAuth}
		} else {
			args = []string{"AUTH", masterAuth}
		}
		if r, err = step(args...); err != nil {
			return err
		}
		if strings.HasPrefix(r, "-") {
			return fmt.Errorf("Unable to AUTH to MASTER: %s", r)
		}
	}
	if r, err = step("REPLCONF", "listening-port", strconv.FormatInt(port, 10)); err != nil {
		return err
	}
	if announceIP != "" {
		if r, err = step("REPLCONF", "ip-address", announceIP); err != nil {
			return err
		}
	}
	if r, err = step("REPLCONF", "capa", "eof", "capa", "psync2"); err != nil {
		return err
	}
	psyncID, psyncOff := "?", "-1"
	if haveCached && cachedID != "" && cachedOff >= 0 {
		psyncID, psyncOff = cachedID, strconv.FormatInt(cachedOff+1, 10)
		s.Log.Info(fmt.Sprintf("Trying a partial resynchronization (request %s:%s).", psyncID, psyncOff))
	} else {
		s.Log.Info("Partial resynchronization not possible (no cached master)")
	}
	if failingOver {
		r, err = step("PSYNC", psyncID, psyncOff, "FAILOVER")
	} else {
		r, err = step("PSYNC", psyncID, psyncOff)
	}
	if err != nil {
		return err
	}
	if failingOver {
		s.Lock()
		if st.link == l && st.failoverState == foInProgress {
			if strings.HasPrefix(r, "+CONTINUE") || strings.HasPrefix(r, "+FULLRESYNC") {
				s.Log.Info("Failover target accepted the PSYNC: failover complete.")
				st.clearFailover()
			} else {
				st.abortFailover("Failover target rejected psync request")
				s.Unlock()
				return fmt.Errorf("failover target rejected PSYNC: %s", r)
			}
		}
		s.Unlock()
	}
	conn.SetDeadline(time.Time{})
	switch {
	case strings.HasPrefix(r, "+FULLRESYNC"):
		f := strings.Fields(r)
		if len(f) < 3 {
			return fmt.Errorf("bad FULLRESYNC reply %q", r)
		}
		newID := f[1]
		off, _ := strconv.ParseInt(f[2], 10, 64)
		s.Log.Info(fmt.Sprintf("Full resync from master: %s:%d", newID, off))
		if err := l.loadSnapshot(lc, newID, off); err != nil {
			return err
		}
	case strings.HasPrefix(r, "+CONTINUE"):
		f := strings.Fields(r)
		s.Lock()
		if len(f) >= 2 && f[1] != st.replID {
			st.replID2 = st.replID
			st.secondOff = st.offset + 1
			st.replID = f[1]
			s.Log.Info(fmt.Sprintf("Master replication ID changed to %s", f[1]))
			// Sub-replicas learn the new id by reconnecting (they continue
			// partially thanks to replid2).
			st.dropReplicas()
		}
		st.haveCached = true
		s.Log.Info("Successful partial resynchronization with master.")
		s.Log.Info("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
		s.IncrStat("replica_partial_sync")
		st.linkUp = true
		l.handshaking = false
		st.lastIO = time.Now()
		s.Unlock()
	default:
		return fmt.Errorf("Unexpected reply to PSYNC from master: %s", r)
	}
	return l.stream(lc)
}

// loadSnapshot reads the RDB payload ($len or $EOF:mark) and loads it as
// repl-diskless-load says:
//
//   - disabled: the payload goes to a temporary file in dir first; once it
//     is complete the old dataset is flushed, the file becomes dbfilename
//     and is loaded (clients get -LOADING meanwhile). A failed transfer
//     leaves the old data alone.
//   - swapdb: parsed straight from the socket into a dataset off to the
//     side, swapped in when complete (a failed load keeps the old one).
//     When the master continues our own history (same replid) the old data
//     is served meanwhile, subject to replica-serve-stale-data (Redis's
//     async loading); otherwise clients get -LOADING.
//   - on-empty-db: straight from the socket when our dataset is empty,
//     else like disabled.
func (l *masterLink) loadSnapshot(lc *lineConn, id string, off int64) error {
	st := l.st
	s := st.srv
	s.Lock()
	st.syncInProgress = true
	l.handshaking = false
	s.Unlock()
	timeout := time.Duration(s.Cfg.Int("repl-timeout")) * time.Second
	l.syncRead.Store(0)
	l.syncTotal.Store(0)
	// While the master prepares the snapshot it sends newlines: each one
	// proves it alive and restarts the timeout.
	var hdr string
	for {
		lc.conn.SetReadDeadline(time.Now().Add(timeout))
		line, err := lc.br.ReadString('\n')
		if err != nil {
			return err
		}
		if hdr = strings.TrimRight(line, "\r\n"); hdr != "" {
			break
		}
		s.Lock()
		st.lastIO = time.Now()
		s.Unlock()
	}
	if !strings.HasPrefix(hdr, "$") {
		return fmt.Errorf("Bad protocol from MASTER, the first byte is not '$' (we received '%s'), are you sure the host and port are right?", hdr)
	}
	s.Lock()
	ks := s.Keyspace()
	ndb := len(ks.DBs)
	now := ks.Now
	empty := true
	for _, db := range ks.DBs {
		if db.Len() > 0 {
			empty = false
			break
		}
	}
	ourID := st.replID
	s.Unlock()
	mode := s.Cfg.String("repl-diskless-load")
	direct := mode == "swapdb" || (mode == "on-empty-db" && empty)
	target := "disk"
	if direct {
		target = "parser"
	}
	var payload io.Reader
	if strings.HasPrefix(hdr, "$EOF:") {
		// The payload ends where the 40-byte mark appears; markReader stops
		// there, leaving what follows (the stream) buffered.
		s.Log.Info("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to " + target)
		l.syncTotal.Store(-1)
		payload = &markReader{br: lc.br, conn: lc.conn, timeout: timeout, mark: []byte(hdr[5:]), read: &l.syncRead}
	} else {
		n, err := strconv.ParseInt(hdr[1:], 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad bulk length %q", hdr)
		}
		l.syncTotal.Store(n)
		payload = &deadlineReader{r: io.LimitReader(lc.br, n), conn: lc.conn, timeout: timeout, read: &l.syncRead}
		s.Log.Info(fmt.Sprintf("MASTER <-> REPLICA sync: receiving %d bytes from master to %s", n, target))
	}
	fresh := keyspace.New(ndb)
	fresh.Now = now
	fresh.NoExpireDelete = true
	// repl-stream-db: the DB the stream after the snapshot continues in
	// (a chained master proxies its master's stream, which has no SELECT
	// at the snapshot point).
	streamDB := 0
	onAux := func(k, v string) {
		if k == "repl-stream-db" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < ndb {
				streamDB = n
			}
		}
	}
	// -LOADING from the start of a load until the new dataset is in.
	loading := false
	setLoading := func() {
		s.SetLoading(true)
		loading = true
	}
	defer func() {
		if loading {
			s.SetLoading(false)
		}
	}()
	defer gcgoal.AtLeast(loadGCPercent)()
	var stats *persist.LoadStats
	var err error
	if direct {
		// Async loading (old data served) only for the same history.
		if async := mode == "swapdb" && id == ourID; !async {
			setLoading()
		}
		if mode == "swapdb" {
			s.Log.Info("MASTER <-> REPLICA sync: Loading DB in memory (swapdb: the old dataset stays until the new one is complete)")
		} else {
			s.Log.Info("MASTER <-> REPLICA sync: Loading DB in memory")
		}
		stats, err = persist.Load(payload, fresh, true, onAux)
		if err != nil {
			if mode == "swapdb" {
				s.Log.Warn("Failed trying to load the MASTER synchronization DB from socket, keeping the old dataset (swapdb)")
			}
			return fmt.Errorf("Failed trying to load the MASTER synchronization DB from socket: %v", err)
		}
		io.Copy(io.Discard, payload)
	} else {
		stats, err = l.loadViaDisk(payload, fresh, onAux, setLoading)
		if err != nil {
			return err
		}
	}
	s.Lock()
	if l.stopped() {
		s.Unlock()
		return nil
	}
	s.Keyspace().Adopt(fresh)
	if loading {
		s.SetLoading(false)
		loading = false
	}
	// Sub-replicas hold the old dataset: they must resync with us.
	st.dropReplicas()
	st.replID = id
	st.replID2 = strings.Repeat("0", 40)
	st.secondOff = -1
	st.offset = off
	st.readOffset = off
	st.backlog.SetEnd(off)
	st.haveCached = true
	st.syncInProgress = false
	st.linkUp = true
	st.lastIO = time.Now()
	if l.fake == nil {
		l.fake = s.NewFakeClient()
		l.fake.SetMaster(true)
	}
	l.fake.SelectDB(streamDB)
	s.IncrStat("replica_full_sync")
	s.Log.Info(fmt.Sprintf("MASTER <-> REPLICA sync: Finished with success (%d keys)", stats.Loaded))
	s.Unlock()
	for _, h := range AfterFullSync {
		h(s)
	}
	return nil
}

// loadViaDisk is repl-diskless-load disabled: store the payload in a temp
// file in dir, flush the old data, rename the file to dbfilename and load
// it into fresh (as Redis does; -LOADING while it loads).
func (l *masterLink) loadViaDisk(payload io.Reader, fresh *keyspace.Keyspace, onAux func(k, v string), setLoading func()) (*persist.LoadStats, error) {
	s := l.st.srv
	dir := s.Cfg.String("dir")
	tmp := filepath.Join(dir, fmt.Sprintf("temp-%d.%d.rdb", time.Now().Unix(), os.Getpid()))
	f, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("Opening the temp file needed for MASTER <-> REPLICA synchronization: %v", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	_, err = io.Copy(bw, payload)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		// Through lowprio.Blocking: on one CPU a replica serving stale
		// data meanwhile keeps a P for its clients during the fsync.
		err = lowprio.Blocking(f.Sync)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("MASTER <-> REPLICA sync: transfer failed: %v", err)
	}
	s.Lock()
	if l.stopped() {
		s.Unlock()
		os.Remove(tmp)
		return nil, errors.New("replication link stopped")
	}
	s.Log.Info("MASTER <-> REPLICA sync: Flushing old data")
	setLoading()
	empty := keyspace.New(len(fresh.DBs))
	empty.Now = fresh.Now
	empty.NoExpireDelete = true
	s.Keyspace().Adopt(empty)
	// Sub-replicas hold the old dataset: they must resync with us.
	l.st.dropReplicas()
	s.Unlock()
	path := filepath.Join(dir, s.Cfg.String("dbfilename"))
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("Failed trying to rename the temp DB into %s in MASTER <-> REPLICA synchronization: %v", filepath.Base(path), err)
	}
	s.Log.Info("MASTER <-> REPLICA sync: Loading DB in memory")
	stats, err := persist.LoadFile(path, fresh, true, onAux)
	if err == nil && stats == nil {
		err = errors.New("synchronization file vanished")
	}
	if err != nil {
		return nil, fmt.Errorf("Failed trying to load the MASTER synchronization DB from disk: %v", err)
	}
	if s.Cfg.Bool("rdb-del-sync-files") && persistenceDisabled(s) {
		s.Log.Info("Removing the RDB file obtained from the master. This replica has persistence disabled")
		os.Remove(path)
	}
	return stats, nil
}

// persistenceDisabled: no save points and no AOF (Redis's
// allPersistenceDisabled, for rdb-del-sync-files).
func persistenceDisabled(s *server.Server) bool {
	if s.Cfg.Bool("appendonly") {
		return false
	}
	for _, v := range s.Cfg.Strings("save") {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// AfterFullSync hooks run after a replica loaded a snapshot (AOF rewrite).
var AfterFullSync []func(s *server.Server)

// markReader reads a diskless ($EOF:<mark>) payload from the socket and
// ends (io.EOF) where the mark appears, consuming the mark and leaving
// whatever follows it (the stream, if a master sends it right away)
// buffered in br. Up to len(mark)-1 bytes are held back between reads in
// case the mark straddles them.
type markReader struct {
	br      *bufio.Reader
	conn    net.Conn
	timeout time.Duration
	mark    []byte
	read    *atomic.Int64
	held    []byte // tail of the last chunk that may begin the mark
	buf     []byte
	out     []byte // payload ready to hand out
	done    bool
}

func (m *markReader) Read(p []byte) (int, error) {
	for len(m.out) == 0 {
		if m.done {
			return 0, io.EOF
		}
		if err := m.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	n := copy(p, m.out)
	m.out = m.out[n:]
	return n, nil
}

func (m *markReader) fill() error {
	m.conn.SetReadDeadline(time.Now().Add(m.timeout))
	if m.br.Buffered() == 0 {
		if _, err := m.br.Peek(1); err != nil {
			return err
		}
	}
	chunk, _ := m.br.Peek(m.br.Buffered())
	m.buf = append(append(m.buf[:0], m.held...), chunk...)
	if i := bytes.Index(m.buf, m.mark); i >= 0 {
		used := i + len(m.mark) - len(m.held)
		m.br.Discard(used)
		m.read.Add(int64(used))
		m.out = m.buf[:i]
		m.held = m.held[:0]
		m.done = true
		return nil
	}
	m.br.Discard(len(chunk))
	m.read.Add(int64(len(chunk)))
	keep := min(len(m.mark)-1, len(m.buf))
	m.held = append(m.held[:0], m.buf[len(m.buf)-keep:]...)
	m.out = m.buf[:len(m.buf)-keep]
	return nil
}

type deadlineReader struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
	read    *atomic.Int64
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	n, err := d.r.Read(p)
	d.read.Add(int64(n))
	return n, err
}

// stream applies the replication stream until the link breaks.
func (l *masterLink) stream(lc *lineConn) error {
	st := l.st
	s := st.srv
	s.Lock()
	if l.fake == nil {
		l.fake = s.NewFakeClient()
		l.fake.SetMaster(true)
		// After a restart from our RDB the stream continues in the DB the
		// master had selected when it was saved.
		l.fake.SelectDB(st.restoredDB)
	}
	first := st.offset
	s.Unlock()
	// The first ACK right away: a master that sent a diskless snapshot
	// starts the stream on it.
	l.sendAck(lc, first)
	// ACK every second from a side goroutine; also answers GETACK promptly
	// from the loop below.
	ackStop := make(chan struct{})
	defer close(ackStop)
	ackKick := make(chan struct{}, 1) // safe mode: ACK right after a batch
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ackStop:
				return
			case <-l.stop:
				return
			case <-ackKick:
				s.Lock()
				off := st.offset
				s.Unlock()
				l.sendAck(lc, off)
			case <-t.C:
				s.Lock()
				off := st.offset
				s.Unlock()
				l.sendAck(lc, off)
			}
		}
	}()
	timeout := time.Duration(s.Cfg.Int("repl-timeout")) * time.Second
	rd := resp.NewReader(&deadlineReader{r: lc.br, conn: lc.conn, timeout: timeout, read: new(atomic.Int64)}, 0, 0)
	var cmds []resp.Command
	var raw []byte
	for {
		var err error
		cmds, err = rd.ReadCommands(cmds[:0])
		if len(cmds) > 0 {
			s.Lock()
			if l.stopped() || st.link != l {
				s.Unlock()
				return nil
			}
			st.lastIO = time.Now()
			sawGetack := false
			for _, c := range cmds {
				raw = resp.AppendCommandBytes(raw[:0], c.Args)
				st.readOffset += int64(len(raw))
				getack := len(c.Args) >= 2 && commands.EqualFold(c.Args[0], "replconf") && commands.EqualFold(c.Args[1], "getack")
				// Proxy first: the offset counts this command, as Redis's
				// replica does before answering GETACK.
				st.writeStream(raw)
				switch {
				case getack:
					sawGetack = true
					off := st.offset
					go l.sendAck(lc, off)
				case commands.EqualFold(c.Args[0], "ping"):
				default:
					// Like Redis's expireIfNeeded for the master client:
					// keys the master still has are live for its commands
					// even if their TTL passed here (its DEL is on the way),
					// so a DEL, a GETSET or a KEEPTTL SET applies to them.
					ks := s.Keyspace()
					saved := ks.Now
					ks.Now = neverExpired
					l.fake.Exec(c.Args)
					ks.Now = saved
				}
			}
			if !sawGetack && st.safeReplicaAckNow() {
				select {
				case ackKick <- struct{}{}:
				default:
				}
			}
			s.Unlock()
		}
		if err != nil {
			if netErr, ok := err.(net.Error); ok && netErr.Timeout() {
				return fmt.Errorf("MASTER timeout: no data nor PING received...")
			}
			return err
		}
	}
}

func init() {
	server.KillMasterLink = func(s *server.Server) int {
		st := Of(s)
		if st == nil || st.link == nil || st.link.conn == nil || !st.linkUp {
			return 0
		}
		st.link.conn.Close()
		return 1
	}
}

func neverExpired() int64 { return math.MinInt64 }

func (l *masterLink) sendAck(lc *lineConn, off int64) {
	lc.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	lc.conn.Write(resp.AppendCommand(nil, "REPLCONF", "ACK", strconv.FormatInt(off, 10)))
}

func replicaofCommand(ctx *commands.Ctx) {
	s := server.ServerOf(ctx)
	st := Of(s)
	host, portArg := string(ctx.Args[1]), string(ctx.Args[2])
	if st.failoverState != foNone {
		ctx.W.Error("ERR REPLICAOF not allowed while failing over.")
		return
	}
	if strings.EqualFold(host, "no") && strings.EqualFold(portArg, "one") {
		if st.masterHost != "" {
			st.SetNoMaster()
			s.Log.Info(fmt.Sprintf("MASTER MODE enabled (user request from '%s')", server.ClientOf(ctx).Addr()))
			setReplicaofConfig(s, "")
		}
		ctx.W.OK()
		return
	}
	port, ok := commands.ParseInt(ctx.Args[2])
	if !ok || port < 0 || port > 65535 {
		ctx.W.Error("ERR Invalid master port")
		return
	}
	if server.ClientOf(ctx).IsReplicaClient() {
		ctx.W.Error("ERR Command is not valid when client is a replica.")
		return
	}
	if st.masterHost == host && st.masterPort == int(port) {
		s.Log.Info("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
		ctx.W.Simple("OK Already connected to specified master")
		return
	}
	if st.masterHost == "" {
		// A master turning replica offers its own history (Redis's
		// replicationCacheMasterUsingMyself).
		st.haveCached = true
	}
	st.SetMaster(host, int(port))
	setReplicaofConfig(s, host+" "+strconv.Itoa(int(port)))
	s.Log.Info(fmt.Sprintf("REPLICAOF %s:%d enabled (user request from '%s')", host, port, server.ClientOf(ctx).Addr()))
	ctx.W.OK()
}

// setReplicaofConfig keeps the config's replicaof in step so CONFIG
// REWRITE (which Sentinel sends after REPLICAOF) persists the new role.
func setReplicaofConfig(s *server.Server, v string) {
	if SetReplicaofConfig != nil {
		SetReplicaofConfig(s, v)
	}
}

// SetReplicaofConfig is wired by the app to the config's internal setter.
var SetReplicaofConfig func(s *server.Server, v string)

// Start applies the replicaof directive at start-up.
func Start(s *server.Server) error {
	st := Of(s)
	v := s.Cfg.Strings("replicaof")
	if len(v) == 1 {
		v = strings.Fields(v[0])
	}
	if len(v) == 2 && !strings.EqualFold(v[0], "no") {
		port, err := strconv.Atoi(v[1])
		if err != nil {
			return fmt.Errorf("Invalid master port in replicaof")
		}
		s.Lock()
		st.SetMaster(v[0], port)
		s.Unlock()
	}
	return nil
}

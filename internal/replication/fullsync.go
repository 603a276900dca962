package replication

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/persist"
)

// Full synchronizations, shared the way Redis shares a BGSAVE between the
// replicas that need it.
//
// A syncJob is one snapshot and the replicas it feeds. Its life:
//
//   - waiting (diskless only): replicas that asked for a diskless sync wait
//     for repl-diskless-sync-delay seconds (counted from the first of them)
//     so that others can join, or until repl-diskless-sync-max-replicas of
//     them are waiting, and while another diskless transfer is running (as
//     Redis, which has one child at a time). Nothing is collected for them:
//     the snapshot isn't taken yet, so every write so far will be in it.
//   - started: the snapshot is taken under the lock at offset j.off, and from
//     then on every stream byte is appended once to j.pending, which every
//     member receives after the snapshot (the +FULLRESYNC offset is j.off
//     for all of them).
//   - diskless: one serializer streams the snapshot to every member through
//     a fan-out writer; a member whose socket fails or stalls longer than
//     repl-timeout is dropped without failing the others.
//   - disk: the snapshot is written to a temporary file in dir. While it is
//     written, a replica that asks for a full sync attaches to the job (same
//     file, same offset, the pending stream so far): Redis's "Waiting for
//     end of BGSAVE for SYNC". Then the file is sent to each member.
//   - a member goes online when its transfer ended (after a diskless
//     transfer to a PSYNC2 replica, at its first REPLCONF ACK) and gets
//     j.pending, then the live stream; the job ends with its last member.
//
// j.pending is the replicas' output buffer while they sync, so
// client-output-buffer-limit replica applies to it: past the hard limit, or
// past the soft limit for longer than its seconds, every member is
// disconnected (the replicas reconnect and retry, as with Redis).

type syncJob struct {
	st       *State
	created  time.Time
	timer    *time.Timer // diskless delay
	started  bool
	diskless bool
	// attachable: a disk job still writing its file.
	attachable bool
	// collecting: the stream since the snapshot goes to pending (false once
	// the job has no member left).
	collecting bool
	id         string
	off        int64
	replicas   []*replicaConn // members not online yet
	pending    []byte
	softSince  time.Time
	kick       chan struct{} // disk: a replica attached, send its header
}

var errNoReplicaLeft = errors.New("no replica left to receive the snapshot")

// startFullSync handles a replica that needs a full sync (lock held): it
// attaches it to a disk snapshot being written, lets it wait for a diskless
// one, or starts a snapshot for it now.
func (st *State) startFullSync(r *replicaConn, psync bool) {
	s := st.srv
	s.IncrStat("sync_full")
	r.psync = psync
	st.replicas = append(st.replicas, r)
	s.Log.Info(fmt.Sprintf("Replica %s asks for synchronization", r.desc()))
	if psync {
		s.Log.Info(fmt.Sprintf("Full resync requested by replica %s", r.desc()))
	}
	// A disk snapshot still being written: share it.
	for _, j := range st.jobs {
		if j.attachable && j.collecting && j.id == st.replID {
			j.add(r)
			r.state = stateWaitBgsave
			s.Log.Info("Waiting for end of BGSAVE for SYNC")
			select {
			case j.kick <- struct{}{}:
			default:
			}
			return
		}
	}
	if s.Cfg.Bool("repl-diskless-sync") && r.capaEOF {
		j := st.waiting
		if j == nil {
			j = &syncJob{st: st, created: time.Now()}
			st.waiting = j
		}
		j.add(r)
		r.state = stateWaitStart
		busy := st.disklessBusy
		if !st.startWaiting() {
			if busy {
				s.Log.Info("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC")
			} else {
				s.Log.Info("Delay next BGSAVE for diskless SYNC")
			}
		}
		return
	}
	// Disk-based: start now, taking along the replicas waiting for a
	// diskless sync (Redis starts one BGSAVE for every waiting replica, on
	// disk when one of them can't read an EOF-marked payload).
	j := st.waiting
	if j != nil {
		st.waiting = nil
		if j.timer != nil {
			j.timer.Stop()
		}
	} else {
		j = &syncJob{st: st, created: time.Now()}
	}
	j.add(r)
	st.startJob(j, false)
}

// startWaiting starts the waiting diskless job when its delay passed or
// enough replicas wait, and no other diskless transfer runs (lock held).
// It reports whether the job started.
func (st *State) startWaiting() bool {
	j := st.waiting
	if j == nil {
		return false
	}
	if len(j.replicas) == 0 {
		st.waiting = nil
		if j.timer != nil {
			j.timer.Stop()
		}
		return false
	}
	if st.disklessBusy {
		return false
	}
	s := st.srv
	delay := time.Duration(s.Cfg.Int("repl-diskless-sync-delay")) * time.Second
	maxr := int(s.Cfg.Int("repl-diskless-sync-max-replicas"))
	waited := time.Since(j.created)
	if waited < delay && (maxr <= 0 || len(j.replicas) < maxr) {
		if j.timer == nil {
			j.timer = time.AfterFunc(delay-waited, func() {
				s.Lock()
				if st.waiting == j {
					j.timer = nil // re-armed below if the delay grew meanwhile
				}
				st.startWaiting()
				s.Unlock()
			})
		}
		return false
	}
	st.waiting = nil
	if j.timer != nil {
		j.timer.Stop()
	}
	diskless := s.Cfg.Bool("repl-diskless-sync")
	for _, r := range j.replicas {
		if !r.capaEOF {
			diskless = false
		}
	}
	st.startJob(j, diskless)
	return true
}

// add makes r a member of j (lock held).
func (j *syncJob) add(r *replicaConn) {
	j.replicas = append(j.replicas, r)
	r.job = j
}

// remove takes r out of j (lock held): r went online or away.
func (j *syncJob) remove(r *replicaConn) {
	for i, x := range j.replicas {
		if x == r {
			j.replicas = append(j.replicas[:i:i], j.replicas[i+1:]...)
			break
		}
	}
	r.job = nil
	if len(j.replicas) == 0 && !j.started && j.st.waiting == j {
		// The delay counts from the first replica that waits.
		j.st.waiting = nil
		if j.timer != nil {
			j.timer.Stop()
		}
	}
	if len(j.replicas) == 0 && j.started {
		// Nobody left to feed: stop collecting and forget the stream.
		j.collecting = false
		j.attachable = false
		j.pending = nil
		j.st.dropJob(j)
	}
}

func (st *State) dropJob(j *syncJob) {
	for i, x := range st.jobs {
		if x == j {
			st.jobs = append(st.jobs[:i:i], st.jobs[i+1:]...)
			return
		}
	}
}

// startJob takes the snapshot for j's replicas and starts sending it
// (lock held).
func (st *State) startJob(j *syncJob, diskless bool) {
	s := st.srv
	snap := s.Keyspace().BeginSnapshot()
	j.started, j.collecting, j.diskless = true, true, diskless
	j.attachable = !diskless
	j.id, j.off = st.replID, st.offset
	j.kick = make(chan struct{}, 1)
	// The next write must start with SELECT for these replicas.
	st.streamDB = -1
	for _, r := range j.replicas {
		r.state = stateWaitBgsave
	}
	st.jobs = append(st.jobs, j)
	ps := persist.Of(s)
	var opt persist.WriteOptions
	if ps != nil {
		opt = ps.WriteOptionsFor()
	} else {
		opt = persist.WriteOptions{Checksum: true}
	}
	// The stream continues in repl-stream-db: ours starts with a SELECT
	// (streamDB = -1 above), a proxied one is in our master's current DB.
	streamDB := 0
	if st.masterHost != "" && st.link != nil && st.link.fake != nil {
		streamDB = st.link.fake.DB()
	}
	opt.Aux = [][2]string{{"repl-stream-db", strconv.Itoa(streamDB)}, {"repl-id", j.id}, {"repl-offset", strconv.FormatInt(j.off, 10)}}
	timeout := time.Duration(s.Cfg.Int("repl-timeout")) * time.Second
	persist.StartSnapshotTrace()
	if diskless {
		st.disklessBusy = true
		s.Log.Info("Starting BGSAVE for SYNC with target: replicas sockets")
		members := append([]*replicaConn(nil), j.replicas...)
		go j.runDiskless(snap, opt, members, timeout)
	} else {
		s.Log.Info("Starting BGSAVE for SYNC with target: disk")
		go j.runDisk(snap, opt, s.Cfg.String("dir"), timeout)
	}
}

// header is what a member reads before the payload: +FULLRESYNC for PSYNC
// (SYNC gets none).
func (j *syncJob) header(r *replicaConn) []byte {
	if !r.psync {
		return nil
	}
	return []byte(fmt.Sprintf("+FULLRESYNC %s %d\r\n", j.id, j.off))
}

// fanout writes the diskless payload to every member still alive, one
// after the other (so the transfer goes at the pace of the slowest member,
// as Redis's does; a member that accepts nothing for repl-timeout is
// dropped).
type fanout struct {
	members []*fanMember
	alive   int
	timeout time.Duration
	log     func(string) // nil in unit tests
}

type fanMember struct {
	r    *replicaConn
	conn net.Conn
	err  error
}

func (f *fanout) Write(p []byte) (int, error) {
	// Called from the encoder's low-priority thread (persist.WriteSnapshot,
	// package lowprio): the kernel, not this loop, makes room for the
	// goroutines serving clients.
	for _, m := range f.members {
		if m.err != nil {
			continue
		}
		m.conn.SetWriteDeadline(time.Now().Add(f.timeout))
		if _, err := m.conn.Write(p); err != nil {
			f.fail(m, err)
		}
	}
	if f.alive == 0 {
		return 0, errNoReplicaLeft
	}
	return len(p), nil
}

// fail drops one member: its connection is closed now, so the replica
// notices and retries while the others go on.
func (f *fanout) fail(m *fanMember, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = errors.New("timeout (no data accepted for repl-timeout)")
	}
	m.err = err
	f.alive--
	m.conn.Close()
	if f.log != nil {
		f.log(fmt.Sprintf("Diskless rdb transfer to replica %s failed: %v; %d replicas still receiving", m.r.desc(), err, f.alive))
	}
}

// runDiskless streams the snapshot to every member at once.
func (j *syncJob) runDiskless(snap *keyspace.Snapshot, opt persist.WriteOptions, members []*replicaConn, timeout time.Duration) {
	st := j.st
	s := st.srv
	f := &fanout{timeout: timeout, log: func(msg string) { s.Log.Warn(msg) }}
	for _, r := range members {
		r.c.LockWriter()
		f.members = append(f.members, &fanMember{r: r, conn: r.c.Conn()})
	}
	f.alive = len(f.members)
	mark := newReplID()
	for _, m := range f.members {
		m.conn.SetWriteDeadline(time.Now().Add(timeout))
		hdr := append(j.header(m.r), "$EOF:"+mark+"\r\n"...)
		if _, err := m.conn.Write(hdr); err != nil {
			f.fail(m, err)
		}
	}
	var err error
	if f.alive == 0 {
		err = errNoReplicaLeft
	} else {
		bw := bufio.NewWriterSize(f, 1<<16)
		if _, err = persist.WriteSnapshot(bw, snap, opt); err == nil {
			bw.WriteString(mark)
			err = bw.Flush()
		}
	}
	for _, m := range f.members {
		m.conn.SetWriteDeadline(time.Time{})
	}
	s.Lock()
	snap.Release()
	st.disklessBusy = false
	up := 0
	for _, m := range f.members {
		r := m.r
		e := m.err
		if e == nil && err != nil {
			e = err
		}
		if e == nil && r.job == j {
			up++
		}
		st.endTransfer(j, r, e, true)
	}
	s.Log.Info(fmt.Sprintf("Diskless rdb transfer, done reading from pipe, %d replicas still up.", up))
	for _, m := range f.members {
		m.r.c.UnlockWriter()
	}
	st.startWaiting()
	s.Unlock()
}

// endTransfer finishes r's transfer (lock held): on error r is dropped,
// otherwise it goes online (or waits for its first ACK after a diskless
// transfer to a PSYNC2 replica) and gets the pending stream.
func (st *State) endTransfer(j *syncJob, r *replicaConn, err error, diskless bool) {
	s := st.srv
	if r.job != j {
		// Gone meanwhile (killed, output buffer limit, role change).
		return
	}
	if err != nil {
		s.Log.Warn(fmt.Sprintf("Failed to send the snapshot to replica %s: %v", r.desc(), err))
		st.removeReplica(r)
		r.c.Kill()
		return
	}
	r.ackTime = time.Now()
	if diskless && r.capaPSYNC2 {
		// The stream waits for the replica's first ACK (it stays in the job
		// and keeps collecting meanwhile).
		r.state = stateSendBulk
		r.waitAck = true
	} else {
		st.goOnline(r)
	}
	s.Log.Info(fmt.Sprintf("Synchronization with replica %s succeeded", r.desc()))
}

// goOnline hands r the stream collected since its snapshot and makes it a
// regular stream receiver (lock held).
func (st *State) goOnline(r *replicaConn) {
	r.state = stateOnline
	r.waitAck = false
	if j := r.job; j != nil {
		pend := j.pending
		j.remove(r)
		if len(pend) > 0 {
			r.c.Push(pend)
		}
	}
}

// runDisk writes the snapshot to a temporary file (replicas may attach
// meanwhile) and then sends it to each member.
func (j *syncJob) runDisk(snap *keyspace.Snapshot, opt persist.WriteOptions, dir string, timeout time.Duration) {
	st := j.st
	s := st.srv
	tmp := filepath.Join(dir, fmt.Sprintf("temp-repl-%d-%d.rdb", os.Getpid(), time.Now().UnixNano()))
	saved := make(chan error, 1)
	go func() {
		_, err := persist.SaveFile(tmp, snap, opt)
		saved <- err
	}()
	// While the file is written the members hear a newline every second,
	// which keeps their repl-timeout from firing (Redis does the same), and
	// a replica that attaches gets its +FULLRESYNC at once.
	hdrSent := map[*replicaConn]bool{}
	greet := func(newline bool) {
		s.Lock()
		members := append([]*replicaConn(nil), j.replicas...)
		s.Unlock()
		for _, r := range members {
			var b []byte
			if !hdrSent[r] {
				hdrSent[r] = true
				b = j.header(r)
			}
			if newline {
				b = append(b, '\n')
			}
			if len(b) == 0 {
				continue
			}
			r.c.LockWriter()
			conn := r.c.Conn()
			conn.SetWriteDeadline(time.Now().Add(timeout))
			conn.Write(b)
			conn.SetWriteDeadline(time.Time{})
			r.c.UnlockWriter()
		}
	}
	greet(false)
	tick := time.NewTicker(time.Second)
	var err error
wait:
	for {
		select {
		case err = <-saved:
			break wait
		case <-j.kick:
			greet(false)
		case <-tick.C:
			greet(true)
		}
	}
	tick.Stop()
	s.Lock()
	snap.Release()
	j.attachable = false
	members := append([]*replicaConn(nil), j.replicas...)
	if err != nil {
		s.Log.Warn("Background saving error: " + err.Error())
		for _, r := range members {
			st.endTransfer(j, r, err, false)
		}
		s.Unlock()
		os.Remove(tmp)
		return
	}
	s.Log.Info("Background saving terminated with success")
	for _, r := range members {
		r.state = stateSendBulk
	}
	s.Unlock()
	defer os.Remove(tmp)
	f, err := os.Open(tmp)
	var size int64
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			size = fi.Size()
		}
		defer f.Close()
	}
	var wg sync.WaitGroup
	for _, r := range members {
		wg.Add(1)
		go func(r *replicaConn) {
			defer wg.Done()
			r.c.LockWriter()
			serr := err
			if serr == nil {
				var hdr []byte
				if !hdrSent[r] {
					hdr = j.header(r)
				}
				serr = sendFile(r.c.Conn(), hdr, f, size, timeout)
			}
			s.Lock()
			st.endTransfer(j, r, serr, false)
			r.c.UnlockWriter()
			s.Unlock()
		}(r)
	}
	wg.Wait()
}

// sendFile writes hdr, $<size> and the file to a replica's socket (its
// writer lock held).
func sendFile(conn net.Conn, hdr []byte, f *os.File, size int64, timeout time.Duration) error {
	defer conn.SetWriteDeadline(time.Time{})
	dw := &deadlineWriter{conn: conn, timeout: timeout}
	bw := bufio.NewWriterSize(dw, 1<<16)
	bw.Write(hdr)
	fmt.Fprintf(bw, "$%d\r\n", size)
	if _, err := io.Copy(bw, io.NewSectionReader(f, 0, size)); err != nil {
		return err
	}
	return bw.Flush()
}

// deadlineWriter gives every write repl-timeout to complete.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.conn.Write(p)
}

// collect appends stream bytes to every started job (lock held) and
// enforces the replica output buffer limit on them.
func (st *State) collect(buf []byte) {
	var over []*syncJob
	for _, j := range st.jobs {
		if !j.collecting {
			continue
		}
		j.pending = append(j.pending, buf...)
		if st.overLimit(j) {
			over = append(over, j)
		}
	}
	for _, j := range over {
		st.closeForLimit(j)
	}
}

// overLimit applies client-output-buffer-limit replica to j.pending, the
// output buffer of each of its members (lock held).
func (st *State) overLimit(j *syncJob) bool {
	hard, soft, secs := st.srv.Cfg.ClientOutputBufferLimit("replica")
	size := int64(len(j.pending))
	if hard > 0 && size >= hard {
		return true
	}
	if soft > 0 && size >= soft {
		if j.softSince.IsZero() {
			j.softSince = time.Now()
			return false
		}
		return time.Since(j.softSince) > time.Duration(secs)*time.Second
	}
	j.softSince = time.Time{}
	return false
}

// closeForLimit disconnects every member of j (lock held), as Redis closes
// a replica whose output buffer passed its limit; the replicas retry.
func (st *State) closeForLimit(j *syncJob) {
	size := len(j.pending)
	for _, r := range append([]*replicaConn(nil), j.replicas...) {
		c := r.c
		st.srv.Log.Warn(fmt.Sprintf("Client id=%d addr=%s laddr=%s fd=0 name=%s flags=S db=0 omem=%d cmd=psync scheduled to be closed ASAP for overcoming of output buffer limits.",
			c.ID(), c.Addr(), c.LocalAddr(), c.Name(), size))
		st.removeReplica(r)
		c.Kill()
	}
}

// jobsCron re-checks the soft limit when no write came, and the waiting
// diskless sync (lock held).
func (st *State) jobsCron() {
	st.startWaiting()
	var over []*syncJob
	for _, j := range st.jobs {
		if j.collecting && st.overLimit(j) {
			over = append(over, j)
		}
	}
	for _, j := range over {
		st.closeForLimit(j)
	}
}

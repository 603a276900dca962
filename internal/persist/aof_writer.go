package persist

import (
	"os"
	"strconv"
	"time"

	"github.com/vigil-kv/vigil/internal/lowprio"
	"github.com/vigil-kv/vigil/internal/resp"
)

// The AOF write path.
//
// Commands are encoded into a.buf under the server lock (feed). Getting
// them to disk depends on appendfsync:
//
//   - always: the writer goroutine takes everything buffered so far,
//     write()s it and fsyncs once, outside the server lock, then wakes every
//     client whose bytes that fsync covered (group commit, like Redis's one
//     write+fsync per event-loop iteration in beforeSleep). Replies wait for
//     it in server/durable.go, without the lock, so the server keeps
//     serving (PING, INFO, other clients' commands, the cron) while an
//     fsync is in progress.
//   - everysec: the buffer is written under the server lock before the
//     batch's replies go out (a crash of the process loses nothing
//     acknowledged); the writer goroutine fsyncs once a second. The server
//     lock never waits for an fsync: while one is running the write is
//     postponed (replies still go out) for up to 2 s, then done anyway
//     (aof_delayed_fsync), as Redis does; the writer writes what was
//     postponed as soon as its fsync ends.
//   - no: written before replies, never fsynced by us.
//
// Offsets count bytes ever appended (appendOff), written (writtenOff) and
// fsynced (syncedOff) over the life of the AOF, across incremental files:
// a file switch (BGREWRITEAOF) writes the old file's pending bytes to it,
// and the next fsync pass fsyncs and closes it before claiming them.

// syncFile is the fsync (a variable for tests: latency, counting).
var syncFile = func(f *os.File) error { return f.Sync() }

const (
	maxPostpone = 2 * time.Second // everysec: longest write postponement
	spareCap    = 1 << 20
)

// feed is the AOF propagator: encode the command into the buffer (server
// lock held).
func (a *AOF) feed(db int, args [][]byte) {
	if !a.enabled || a.loading {
		return
	}
	a.syncMu.Lock()
	n := len(a.buf)
	if db != a.lastDB {
		a.buf = resp.AppendCommand(a.buf, "SELECT", strconv.Itoa(db))
		a.lastDB = db
	}
	a.buf = resp.AppendCommandBytes(a.buf, args)
	d := int64(len(a.buf) - n)
	a.appendOff += d
	always := a.fsync == "always"
	a.syncMu.Unlock()
	a.currentSize += d
	if always {
		a.wakeWriter()
	}
}

func (a *AOF) wakeWriter() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// beforeReply runs after every batch and from the cron (server lock held).
func (a *AOF) beforeReply() {
	a.syncMu.Lock()
	if len(a.buf) == 0 || a.f == nil {
		a.syncMu.Unlock()
		return
	}
	switch a.fsync {
	case "always":
		a.syncMu.Unlock()
		a.wakeWriter() // the replies wait in server/durable.go
		return
	case "everysec":
		if a.fsyncing {
			now := time.Now()
			if a.postponedStart.IsZero() {
				a.postponedStart = now
				a.syncMu.Unlock()
				return
			}
			if now.Sub(a.postponedStart) < maxPostpone {
				a.syncMu.Unlock()
				return
			}
			a.delayedFsync++
			a.syncMu.Unlock()
			a.st.srv.Log.Info("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.")
			a.writeOut()
			return
		}
	}
	a.syncMu.Unlock()
	a.writeOut()
}

// writeOut writes everything buffered to the current file. It never waits
// for an fsync (only for another write()).
func (a *AOF) writeOut() {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.syncMu.Lock()
	data, f := a.buf, a.f
	if len(data) == 0 || f == nil {
		a.syncMu.Unlock()
		return
	}
	a.buf, a.spare = a.spare[:0], nil
	a.postponedStart = time.Time{}
	policy := a.fsync
	a.syncMu.Unlock()
	_, err := f.Write(data)
	a.syncMu.Lock()
	a.writtenOff += int64(len(data))
	a.writeErr = err != nil
	if cap(data) <= spareCap {
		a.spare = data[:0]
	}
	a.syncMu.Unlock()
	if err != nil {
		if policy == "always" {
			a.st.srv.Log.Warn("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...")
			os.Exit(1)
		}
		a.st.srv.Log.Warn("Error writing to the AOF file: " + err.Error())
	}
}

// switchFile makes f the current incremental file (server lock held): the
// old file gets what was buffered for it and is fsynced and closed by the
// next fsync pass.
func (a *AOF) switchFile(f *os.File) {
	a.writeOut()
	a.wmu.Lock()
	a.syncMu.Lock()
	retire := a.f != nil
	if retire {
		a.retired = append(a.retired, a.f)
	}
	a.f = f
	a.syncMu.Unlock()
	a.wmu.Unlock()
	if retire && a.stopSync != nil {
		a.wakeWriter()
	}
}

// gather: when fsyncs are slow, the clients an fsync just released need a
// moment (a round trip) to send their next write; starting the next fsync
// at once would take only the few writes already buffered and split the
// clients into cohorts that alternate between fsyncs, halving throughput.
// So back-to-back passes start at least a tenth of the last fsync's
// duration (at most 5 ms, nothing when fsyncs take under 2 ms) after the
// previous one ended, like PostgreSQL's commit_delay.
func (a *AOF) gather(stop chan struct{}) {
	a.syncMu.Lock()
	last, end := a.lastFsyncDur, a.lastFsync
	a.syncMu.Unlock()
	if last < 2*time.Millisecond {
		return
	}
	d := min(last/10, 5*time.Millisecond) - time.Since(end)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-stop:
		t.Stop()
	}
}

// fsyncPass fsyncs what was written so far (and closes retired files),
// then wakes the clients waiting for it.
func (a *AOF) fsyncPass() {
	a.fsyncMu.Lock()
	defer a.fsyncMu.Unlock()
	a.syncMu.Lock()
	off, f, retired := a.writtenOff, a.f, a.retired
	a.retired = nil
	if off <= a.syncedOff && len(retired) == 0 {
		a.syncMu.Unlock()
		return
	}
	a.fsyncing = true
	always := a.fsync == "always"
	a.syncMu.Unlock()
	// The everysec fsync runs beside the server (lowprio.Blocking: on one
	// CPU it would otherwise hold the only P for up to 10 ms every second).
	// With always, an fsync follows every batch of writes, and the clients
	// wait for it anyway.
	fsync := func(f *os.File) error {
		if always {
			return syncFile(f)
		}
		return lowprio.Blocking(func() error { return syncFile(f) })
	}
	start := time.Now()
	var err error
	for _, r := range retired {
		if e := fsync(r); e != nil && err == nil {
			err = e
		}
		r.Close()
	}
	if f != nil {
		if e := fsync(f); e != nil && err == nil {
			err = e
		}
	}
	a.syncMu.Lock()
	a.fsyncing = false
	a.lastFsyncDur = time.Since(start)
	a.lastFsync = time.Now()
	a.fsyncErr = err != nil
	if err == nil && off > a.syncedOff {
		a.syncedOff = off
	}
	policy := a.fsync
	a.wakeWaitersLocked()
	a.syncMu.Unlock()
	if err != nil {
		if policy == "always" {
			a.st.srv.Log.Warn("Can't persist AOF for fsync error when the AOF fsync policy is 'always': " + err.Error() + ". Exiting...")
			os.Exit(1)
		}
		a.st.srv.Log.Warn("Fsync of the AOF file failed: " + err.Error())
	}
}

func (a *AOF) wakeWaitersLocked() {
	close(a.synced)
	a.synced = make(chan struct{})
}

// End implements server.Durability (server lock held).
func (a *AOF) End() (int64, bool) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	return a.appendOff, a.fsync == "always" && a.enabled
}

// Wait implements server.Durability.
func (a *AOF) Wait(off int64) <-chan struct{} {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if off <= a.syncedOff || a.fsync != "always" || a.stopped == nil {
		return nil
	}
	return a.synced
}

// startWriter starts the writer goroutine.
func (a *AOF) startWriter() {
	a.stopSync = make(chan struct{})
	a.stopped = make(chan struct{})
	go a.writerLoop(a.stopSync, a.stopped)
}

// stopWriter stops the writer, writes and fsyncs what is left and closes
// the files (server lock held; CONFIG SET appendonly no).
func (a *AOF) stopWriter() {
	if a.stopSync == nil {
		return
	}
	close(a.stopSync)
	<-a.stopped
	a.flushAndSync()
	a.wmu.Lock()
	a.syncMu.Lock()
	if a.f != nil {
		a.f.Close()
		a.f = nil
	}
	for _, r := range a.retired {
		r.Close()
	}
	a.retired = nil
	a.stopSync, a.stopped = nil, nil // Wait returns nil from now on
	a.wakeWaitersLocked()
	a.syncMu.Unlock()
	a.wmu.Unlock()
}

func (a *AOF) writerLoop(stop, stopped chan struct{}) {
	defer close(stopped)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		tick := false
		select {
		case <-stop:
			return
		case <-a.kick:
		case <-t.C:
			tick = true
		}
		a.syncMu.Lock()
		policy := a.fsync
		a.syncMu.Unlock()
		switch policy {
		case "always":
			a.gather(stop)
			a.writeOut()
			a.fsyncPass()
		case "everysec":
			a.writeOut() // what was postponed behind the last fsync
			a.syncMu.Lock()
			due := time.Since(a.lastFsync) >= time.Second
			a.syncMu.Unlock()
			if tick || due {
				a.fsyncPass()
				a.writeOut()
			}
		default:
			a.writeOut()
		}
		if tick {
			// Clients still waiting after a switch away from always
			// re-check (Wait returns nil for them now).
			a.syncMu.Lock()
			if a.fsync != "always" {
				a.wakeWaitersLocked()
			}
			a.syncMu.Unlock()
		}
	}
}

// flushAndSync writes and fsyncs everything now (SHUTDOWN, DEBUG LOADAOF,
// turning the AOF off); it may wait for a running fsync.
func (a *AOF) flushAndSync() {
	a.writeOut()
	a.fsyncPass()
}

// Info fields of INFO persistence (server lock held).

func (a *AOF) writeStatusOK() bool {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	return !a.writeErr && !a.fsyncErr
}

func (a *AOF) bufferLen() int {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	return len(a.buf)
}

func (a *AOF) pendingBioFsync() int {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if a.fsyncing {
		return 1
	}
	return 0
}

func (a *AOF) delayedFsyncs() int64 {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	return a.delayedFsync
}

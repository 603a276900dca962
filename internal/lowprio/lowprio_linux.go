package lowprio

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// lowerThread raises the calling thread's nice value by delta (capped at
// 19). On Linux, PRIO_PROCESS with a thread id applies to that thread only.
// Errors are ignored: the work then just runs at the normal priority.
func lowerThread(delta int) {
	tid := syscall.Gettid()
	// The raw getpriority syscall returns 20 - nice.
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return
	}
	nice := min(20-cur+delta, 19)
	syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
}

// threadNice reports the calling thread's nice value (tests).
func threadNice() (int, error) {
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - cur, err
}

// Napper puts background work to sleep so that the P it shares with the
// server's goroutines serves them meanwhile. It waits for a timerfd to
// fire through Go's network poller, with a read deadline a little later:
// the goroutine always parks, so the P runs the goroutines queued on it
// and then polls the network (a goroutine that only yields with
// runtime.Gosched never lets it poll: requests then waited for sysmon's
// poll, 10 ms); the poller sees the timerfd fire as soon as the P runs
// out of work, and the deadline, a Go timer, ends the nap when it never
// does. (time.Sleep wakes on a Go timer only, and an idle P waits for one
// in whole milliseconds.)
type Napper struct {
	f      *os.File
	rc     syscall.RawConn
	fd     uintptr
	waited bool               // this nap has waited for the poller once
	read   func(uintptr) bool // n.readExpired, bound once (no closure per nap)
}

// napSlack is how much later than the timerfd the deadline falls.
const napSlack = 50 * time.Microsecond

func NewNapper() *Napper {
	fd, _, e := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, 1 /* CLOCK_MONOTONIC */, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		return nil
	}
	f := os.NewFile(fd, "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	n := &Napper{f: f, rc: rc, fd: fd}
	n.read = n.readExpired
	return n
}

// Nap sleeps about d (at least a microsecond). A nil Napper time.Sleeps.
func (n *Napper) Nap(d time.Duration) {
	if n == nil {
		time.Sleep(d)
		return
	}
	d = max(d, time.Microsecond)
	// itimerspec: interval (none), then the value; arming it again resets
	// the expirations of an earlier nap that the deadline ended.
	its := [4]int64{0, 0, int64(d / time.Second), int64(d % time.Second)}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, n.fd, 0, uintptr(unsafe.Pointer(&its[0])), 0, 0, 0); e != 0 {
		time.Sleep(d)
		return
	}
	n.f.SetReadDeadline(time.Now().Add(d + napSlack))
	n.waited = false
	n.rc.Read(n.read)
}

// readExpired is the RawConn read of a nap: the first call only asks to
// wait for the poller (even if the timer already fired, so the goroutine
// parks), the next ones read the expiration count.
func (n *Napper) readExpired(fd uintptr) bool {
	if !n.waited {
		n.waited = true
		return false
	}
	var buf [8]byte
	_, err := syscall.Read(int(fd), buf[:])
	return err != syscall.EAGAIN // EAGAIN: readiness left from an earlier nap
}

// Close releases the timerfd.
func (n *Napper) Close() {
	if n != nil {
		n.f.Close()
	}
}

// processCPU is the process's CPU time so far (all threads).
func processCPU() time.Duration {
	var ts syscall.Timespec
	const clockProcessCPUTime = 2
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

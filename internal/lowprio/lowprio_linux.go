package lowprio

import (
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

// yieldThread gives the CPU to another runnable thread, if any
// (sched_yield). A raw system call: the runtime need not hand the P to
// another thread meanwhile (the work's P is its own).
func yieldThread() {
	syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}

// sleepThread sleeps d (nanosleep) keeping the P, as yieldThread.
func sleepThread(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}

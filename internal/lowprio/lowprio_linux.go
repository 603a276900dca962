package lowprio

import "syscall"

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

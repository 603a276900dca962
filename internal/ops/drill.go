package ops

import "fmt"

// Extension points for the next step of the "Operator commands" issue.
// Both will build on Collect (snapshot.go) to find the current master and
// the Sentinels, and on Watch/streamEvents (status.go, events.go) to show
// progress: drill stops the master (a child of 'vigil up', or via
// SHUTDOWN/DEBUG SLEEP on a given node), then waits for +switch-master and
// for every Sentinel to agree, and reports the time taken; switchover
// runs SENTINEL FAILOVER on one Sentinel and waits the same way.

var drillCmd = command{
	name:    "drill",
	usage:   "vigil drill [--dir DIR | --sentinel HOST:PORT ...]",
	summary: "Simulate a master failure and measure the failover (not implemented yet).",
	example: "vigil drill --dir ./vigil-data",
}

var switchoverCmd = command{
	name:    "switchover",
	usage:   "vigil switchover [--dir DIR | --sentinel HOST:PORT ...]",
	summary: "Hand the master role to a replica through SENTINEL FAILOVER (not implemented yet).",
	example: "vigil switchover --dir ./vigil-data",
}

// Drill runs `vigil drill` (not implemented yet).
func Drill(args []string) int { return notYet(drillCmd, args) }

// Switchover runs `vigil switchover` (not implemented yet).
func Switchover(args []string) int { return notYet(switchoverCmd, args) }

func notYet(c command, args []string) int {
	fs := c.newFlags()
	if _, err := c.parse(fs, args); err == errHelp {
		return 0
	}
	return c.fail(fmt.Errorf("not implemented yet"))
}

package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// rssKB reads a process's resident set size from /proc.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestMemoryPurge: MEMORY PURGE gives the garbage of a bulk build (Lua
// tables and argument copies of scripts) back to the OS, as Redis's does
// with jemalloc's dirty pages.
func TestMemoryPurge(t *testing.T) {
	t.Parallel()
	p := testutil.StartVigil(t, testutil.StartOptions{})
	c := testutil.MustDial(t, p.Addr)
	// ~200 MB of short-lived garbage, ~10 MB kept.
	script := "local a={} for i=1,20000 do a[#a+1]=string.rep('x',100)..i end for j=1,100 do local b={} for i=1,2000 do b[#b+1]=string.rep('y',500)..i end end redis.call('SET',KEYS[1],table.concat(a,',',1,100)) return 1"
	for i := 0; i < 20; i++ {
		if v, err := c.Do("EVAL", script, "1", fmt.Sprint("k", i)); err != nil || v.Int != 1 {
			t.Fatalf("EVAL: %v %v", v, err)
		}
	}
	before := rssKB(t, p.Cmd.Process.Pid)
	if v, err := c.Do("MEMORY", "PURGE"); err != nil || string(v.Str) != "OK" {
		t.Fatalf("MEMORY PURGE: %v %v", v, err)
	}
	after := rssKB(t, p.Cmd.Process.Pid)
	t.Logf("RSS before MEMORY PURGE %d kB, after %d kB", before, after)
	if after > before*3/4 {
		t.Fatalf("MEMORY PURGE left RSS at %d kB of %d kB", after, before)
	}
}

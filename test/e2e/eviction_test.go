package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/testutil"
)

func evictInfo(t *testing.T, c *testutil.Client, field string) int64 {
	t.Helper()
	v := c.MustDo(t, "INFO", "everything")
	for _, l := range strings.Split(string(v.Str), "\r\n") {
		if strings.HasPrefix(l, field+":") {
			n, _ := strconv.ParseInt(strings.TrimPrefix(l, field+":"), 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in INFO", field)
	return 0
}

// pipeline sends cmds and reads all replies, failing on errors.
func evictPipeline(t *testing.T, c *testutil.Client, cmds [][]string) {
	t.Helper()
	var buf []byte
	for _, a := range cmds {
		buf = resp.AppendCommand(buf, a...)
	}
	if _, err := c.Conn.Write(buf); err != nil {
		t.Fatal(err)
	}
	for range cmds {
		v, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if v.Type == '-' {
			t.Fatalf("error during write load: %s", v.Str)
		}
	}
}

// Under maxmemory 64mb and allkeys-lru, a write load of 10x that size keeps
// used memory within the limit plus a small margin and the RSS bounded.
func TestEvictionBoundsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 640 MB")
	}
	t.Parallel()
	const maxmem = 64 << 20
	p := testutil.StartVigil(t, testutil.StartOptions{Args: []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}})
	c := testutil.MustDial(t, p.Addr)
	val := strings.Repeat("x", 4096)
	total := 0
	var peakUsed int64
	for batch := 0; total < 10*maxmem; batch++ {
		cmds := make([][]string, 0, 100)
		for i := 0; i < 100; i++ {
			cmds = append(cmds, []string{"SET", fmt.Sprintf("k:%d:%d", batch, i), val})
			total += len(val)
		}
		evictPipeline(t, c, cmds)
		if batch%50 == 0 {
			if u := evictInfo(t, c, "used_memory"); u > peakUsed {
				peakUsed = u
			}
		}
	}
	used := evictInfo(t, c, "used_memory")
	rss := evictInfo(t, c, "used_memory_rss")
	evicted := evictInfo(t, c, "evicted_keys")
	keys := c.MustDo(t, "DBSIZE").Int
	t.Logf("wrote %d MB into maxmemory 64 MB: used_memory %.1f MB (peak sampled %.1f MB), RSS %.1f MB, evicted %d keys, %d keys left",
		total>>20, float64(used)/(1<<20), float64(peakUsed)/(1<<20), float64(rss)/(1<<20), evicted, keys)
	if evicted == 0 {
		t.Fatal("nothing was evicted")
	}
	if used > maxmem*11/10 || peakUsed > maxmem*12/10 {
		t.Fatalf("used_memory %d (peak %d) exceeds maxmemory %d by more than the margin", used, peakUsed, maxmem)
	}
	if rss > 3*maxmem {
		t.Fatalf("RSS %d not bounded (3x maxmemory)", rss)
	}
}

// allkeys-lru keeps a hot set that is read continuously while cold keys
// written once are evicted.
func TestEvictionKeepsHotKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a few seconds")
	}
	t.Parallel()
	p := testutil.StartVigil(t, testutil.StartOptions{Args: []string{"--maxmemory", "24mb", "--maxmemory-policy", "allkeys-lru"}})
	c := testutil.MustDial(t, p.Addr)
	val := strings.Repeat("h", 1024)
	const hot = 500
	var cmds [][]string
	for i := 0; i < hot; i++ {
		cmds = append(cmds, []string{"SET", fmt.Sprintf("hot:%d", i), val})
	}
	evictPipeline(t, c, cmds)
	// LRU stamps have one-second resolution (as in Redis), so keep writing
	// cold keys for a few seconds while reading the hot ones.
	deadline := time.Now().Add(4 * time.Second)
	batch := 0
	for time.Now().Before(deadline) {
		cmds = cmds[:0]
		for i := 0; i < 100; i++ {
			cmds = append(cmds, []string{"SET", fmt.Sprintf("cold:%d:%d", batch, i), val})
		}
		for i := 0; i < hot; i += 10 {
			cmds = append(cmds, []string{"GET", fmt.Sprintf("hot:%d", (i+batch)%hot)})
		}
		evictPipeline(t, c, cmds)
		if batch%5 == 0 {
			// Touch every hot key regularly.
			all := make([][]string, 0, hot)
			for i := 0; i < hot; i++ {
				all = append(all, []string{"GET", fmt.Sprintf("hot:%d", i)})
			}
			evictPipeline(t, c, all)
		}
		batch++
	}
	present := 0
	for i := 0; i < hot; i++ {
		if v := c.MustDo(t, "EXISTS", fmt.Sprintf("hot:%d", i)); v.Int == 1 {
			present++
		}
	}
	cold := batch * 100
	keys := c.MustDo(t, "DBSIZE").Int
	evicted := evictInfo(t, c, "evicted_keys")
	t.Logf("hot keys kept: %d/%d; cold keys written: %d, keys now %d, evicted %d", present, hot, cold, keys, evicted)
	if evicted == 0 {
		t.Fatal("load did not trigger eviction; raise it")
	}
	if present < hot*95/100 {
		t.Fatalf("only %d of %d hot keys survived allkeys-lru", present, hot)
	}
}

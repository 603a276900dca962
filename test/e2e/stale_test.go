package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// replica-serve-stale-data no: while the master link is down, data
// commands get -MASTERDOWN; commands flagged stale (INFO, PING, CONFIG,
// REPLICAOF) still work, as in Redis.
func TestReplicaServeStaleData(t *testing.T) {
	t.Parallel()
	dead := testutil.FreePort(t) // nothing listens there
	p := testutil.StartVigil(t, testutil.StartOptions{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(dead), "--replica-serve-stale-data", "no"}})
	c := testutil.MustDial(t, p.Addr)
	v := c.MustDo(t, "GET", "k")
	if v.Type != '-' || !strings.HasPrefix(string(v.Str), "MASTERDOWN") {
		t.Fatalf("GET on a stale replica: %s", v)
	}
	if v := c.MustDo(t, "INFO", "replication"); v.Type == '-' || !strings.Contains(string(v.Str), "master_link_status:down") {
		t.Fatalf("INFO: %s", v)
	}
	c.MustDo(t, "CONFIG", "SET", "replica-serve-stale-data", "yes")
	if v := c.MustDo(t, "GET", "k"); v.Type == '-' {
		t.Fatalf("GET with replica-serve-stale-data yes: %s", v)
	}
}

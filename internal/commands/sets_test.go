package commands

import (
	"strings"
	"testing"
)

func TestSetCommandsPropagationAndEvents(t *testing.T) {
	env := newHashTestEnv()
	env.run(t, "SADD", "s", "1", "2", "3", "3")
	if env.ctx.Dirty != 3 || strings.Join(env.srv.events, ",") != "sadd:s" {
		t.Fatalf("sadd dirty %d events %v", env.ctx.Dirty, env.srv.events)
	}
	// SPOP single is propagated as SREM of the popped member.
	got := env.run(t, "SPOP", "s")
	member := strings.Split(got, "\r\n")[1]
	if p := env.propagated(); p != "SREM s "+member {
		t.Fatalf("spop propagated %q (reply %q)", p, got)
	}
	// SPOP with a count smaller than the set: one SREM per member.
	env.run(t, "SADD", "s", "a", "b", "c", "d", "e", "f")
	env.run(t, "SPOP", "s", "2")
	if len(env.ctx.Propagate) != 2 || !strings.HasPrefix(env.propagated(), "SREM s ") {
		t.Fatalf("spop count propagated %q", env.propagated())
	}
	if got := env.run(t, "SCARD", "s"); got != ":6\r\n" {
		t.Fatalf("scard %q", got)
	}
	// Case 3 (most of the set popped).
	env.run(t, "SPOP", "s", "5")
	if len(env.ctx.Propagate) != 5 {
		t.Fatalf("spop count 5 propagated %q", env.propagated())
	}
	// The whole set: DEL.
	env.run(t, "SPOP", "s", "10")
	if p := env.propagated(); p != "DEL s" {
		t.Fatalf("spop all propagated %q", p)
	}
	if strings.Join(env.srv.events, ",") != "spop:s,del:s" {
		t.Fatalf("events %v", env.srv.events)
	}
	if env.ks.DBs[0].Len() != 0 {
		t.Fatal("key left")
	}
	// SRANDMEMBER is read-only.
	env.run(t, "SADD", "s", "x")
	env.run(t, "SRANDMEMBER", "s", "-5")
	if env.ctx.Dirty != 0 || len(env.ctx.Propagate) != 0 {
		t.Fatal("srandmember wrote")
	}
}

func TestSmoveEvents(t *testing.T) {
	env := newHashTestEnv()
	env.run(t, "SADD", "src", "m")
	env.run(t, "SMOVE", "src", "dst", "m")
	if strings.Join(env.srv.events, ",") != "srem:src,del:src,sadd:dst" {
		t.Fatalf("events %v", env.srv.events)
	}
	if strings.Join(env.srv.modified, ",") != "src,dst" || env.ctx.Dirty != 2 {
		t.Fatalf("modified %v dirty %d", env.srv.modified, env.ctx.Dirty)
	}
}

func TestSintercardKeys(t *testing.T) {
	cmd := Lookup([]byte("sintercard"))
	args := [][]byte{[]byte("SINTERCARD"), []byte("2"), []byte("a"), []byte("b"), []byte("LIMIT"), []byte("1")}
	if got := cmd.KeyIndexes(args); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Fatalf("keys %v", got)
	}
	if got := cmd.KeyIndexes(args[:2]); len(got) != 0 {
		t.Fatalf("keys %v", got)
	}
}

func TestSscanHashtableCompletesWhileGrowing(t *testing.T) {
	env := newHashTestEnv()
	args := []string{"SADD", "s"}
	for i := 0; i < 700; i++ {
		args = append(args, "m"+itoaHash(i))
	}
	env.run(t, args...)
	seen := map[string]bool{}
	cursor := "0"
	for n := 0; n < 100000; n++ {
		out := env.run(t, "SSCAN", "s", cursor)
		lines := strings.Split(out, "\r\n")
		cursor = lines[2]
		for i := 4; i+1 < len(lines); i += 2 {
			seen[lines[i+1]] = true
		}
		if n < 500 {
			env.run(t, "SADD", "s", "grow"+itoaHash(n))
		}
		if cursor == "0" {
			break
		}
	}
	for i := 0; i < 700; i++ {
		if !seen["m"+itoaHash(i)] {
			t.Fatalf("missed m%d", i)
		}
	}
}

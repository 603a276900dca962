package commands

import (
	"bufio"
	"strings"
	"testing"

	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/resp"
)

// hashFakeSrv records notifications and answers settings with Redis's defaults.
type hashFakeSrv struct {
	events   []string
	modified []string
	settings map[string]int64
}

func (s *hashFakeSrv) Notify(class int, event string, key []byte, db int) {
	s.events = append(s.events, event+":"+string(key))
}
func (s *hashFakeSrv) SignalModifiedKey(db int, key []byte) {
	s.modified = append(s.modified, string(key))
}
func (s *hashFakeSrv) SignalKeyReady(db int, key []byte) {}
func (s *hashFakeSrv) Setting(name string) int64 {
	if v, ok := s.settings[name]; ok {
		return v
	}
	switch name {
	case "hash-max-listpack-entries", "set-max-intset-entries":
		return 512
	case "hash-max-listpack-value":
		return 64
	}
	return 0
}

type hashTestEnv struct {
	ks  *keyspace.Keyspace
	srv *hashFakeSrv
	ctx *Ctx
}

func newHashTestEnv() *hashTestEnv {
	ks := keyspace.New(16)
	ks.Now = func() int64 { return 1_000_000 }
	srv := &hashFakeSrv{settings: map[string]int64{}}
	return &hashTestEnv{ks: ks, srv: srv}
}

// run executes one command and returns its RESP2 reply as text.
func (env *hashTestEnv) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := Lookup([]byte(args[0]))
	if cmd == nil {
		t.Fatalf("unknown command %s", args[0])
	}
	if (cmd.Arity > 0 && len(args) != cmd.Arity) || (cmd.Arity < 0 && len(args) < -cmd.Arity) {
		t.Fatalf("bad arity for %v", args)
	}
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	env.srv.events = nil
	env.srv.modified = nil
	c := &Ctx{Args: bargs, W: &resp.Writer{Proto: 2}, DB: env.ks.DBs[0], KS: env.ks, Cmd: cmd, Srv: env.srv, Now: 1_000_000}
	cmd.Proc(c)
	env.ctx = c
	return string(c.W.Buf)
}

func (env *hashTestEnv) propagated() string {
	var parts []string
	for _, p := range env.ctx.Propagate {
		var words []string
		for _, a := range p {
			words = append(words, string(a))
		}
		parts = append(parts, strings.Join(words, " "))
	}
	return strings.Join(parts, "; ")
}

func TestHashCommandsPropagationAndEvents(t *testing.T) {
	env := newHashTestEnv()
	if got := env.run(t, "HSET", "h", "a", "1", "b", "2"); got != ":2\r\n" {
		t.Fatalf("hset %q", got)
	}
	if env.ctx.Dirty != 2 || strings.Join(env.srv.events, ",") != "hset:h" {
		t.Fatalf("dirty %d events %v", env.ctx.Dirty, env.srv.events)
	}
	if got := env.run(t, "HINCRBYFLOAT", "h", "a", "0.5"); got != "$3\r\n1.5\r\n" {
		t.Fatalf("hincrbyfloat %q", got)
	}
	if p := env.propagated(); p != "HSET h a 1.5" {
		t.Fatalf("propagated %q", p)
	}
	env.run(t, "HSETNX", "h", "a", "x")
	if env.ctx.Dirty != 0 || len(env.srv.modified) != 0 {
		t.Fatal("hsetnx on existing field must not be a write")
	}
	env.run(t, "HDEL", "h", "a", "b")
	if strings.Join(env.srv.events, ",") != "hdel:h,del:h" || env.ctx.Dirty != 2 {
		t.Fatalf("hdel events %v dirty %d", env.srv.events, env.ctx.Dirty)
	}
	if env.ks.DBs[0].Len() != 0 {
		t.Fatal("empty hash not deleted")
	}
	env.run(t, "HRANDFIELD", "nokey", "3")
	if env.ctx.Dirty != 0 {
		t.Fatal("read command dirtied")
	}
}

func TestHashCommandsEncodingFromSettings(t *testing.T) {
	env := newHashTestEnv()
	env.srv.settings["hash-max-listpack-entries"] = 2
	env.run(t, "HSET", "h", "a", "1", "b", "2")
	e := env.ks.DBs[0].Peek("h")
	if e.Coll.Encoding() != "listpack" {
		t.Fatal("early conversion")
	}
	env.run(t, "HSET", "h", "c", "3")
	if e.Coll.Encoding() != "hashtable" {
		t.Fatal("no conversion")
	}
	if got := env.run(t, "HLEN", "h"); got != ":3\r\n" {
		t.Fatal(got)
	}
}

func TestHashScanHashtableCompletes(t *testing.T) {
	env := newHashTestEnv()
	args := []string{"HSET", "h"}
	for i := 0; i < 1000; i++ {
		args = append(args, "f"+string(rune('a'+i%26))+strings.Repeat("x", i%7)+itoaHash(i), "v")
	}
	env.run(t, args...)
	seen := map[string]bool{}
	cursor := "0"
	for n := 0; n < 10000; n++ {
		env.run(t, "HSCAN", "h", cursor, "COUNT", "7")
		rd := resp.NewReplyReader(bufio.NewReader(strings.NewReader(string(env.ctx.W.Buf))))
		r, err := rd.Read()
		if err != nil {
			t.Fatal(err)
		}
		cursor = string(r.Elems[0].Str)
		for i := 0; i < len(r.Elems[1].Elems); i += 2 {
			seen[string(r.Elems[1].Elems[i].Str)] = true
		}
		if cursor == "0" {
			break
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("scan saw %d of 1000", len(seen))
	}
}

func itoaHash(i int) string { return string(Itoa(int64(i))) }

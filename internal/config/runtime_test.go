package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestGet(t *testing.T) {
	c := NewServer()
	names := func(r [][2]string) string {
		var s []string
		for _, kv := range r {
			s = append(s, kv[0])
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		pats []string
		want string
	}{
		{[]string{"port", "port"}, "port"},
		{[]string{"PORT"}, "PORT"},
		{[]string{"Port", "P*RT"}, "Port"},
		{[]string{"slave-read-only"}, "slave-read-only"},
		{[]string{"*read-only"}, "replica-read-only,slave-read-only"},
		{[]string{"maxmemory*"}, "maxmemory,maxmemory-policy,maxmemory-samples,maxmemory-eviction-tenacity,maxmemory-clients"},
		{[]string{"replica-read-onl[xy]", `slave\-read-only`}, "replica-read-only"}, // no glob char: exact lookup
		{[]string{`slave\-read-onl?`}, "slave-read-only"},
		{[]string{"h?"}, "hz"},
		{[]string{"[^a-y]set-max-intset-entries"}, ""},
		{[]string{"[r-t]et-max-intset-entries"}, "set-max-intset-entries"},
		{[]string{"include", "rename-command", "nope"}, ""},
	}
	for _, tc := range cases {
		if got := names(c.Get(tc.pats...)); got != tc.want {
			t.Errorf("%q: %s want %s", tc.pats, got, tc.want)
		}
	}
	if n := len(c.Get("*")); n < 190 {
		t.Errorf("Get(*) = %d entries", n)
	}
	for p, s := range map[string]string{"a*b*c": "aXbYc", `a\*`: "a*", "[abc]": "b", "?": "x", "*": ""} {
		if !GlobMatch(p, s, false) {
			t.Errorf("%q !~ %q", p, s)
		}
	}
	for p, s := range map[string]string{"a*b*c": "aXbY", `a\*`: "ab", "[^abc]": "b", "?": ""} {
		if GlobMatch(p, s, false) {
			t.Errorf("%q ~ %q", p, s)
		}
	}
	if GlobMatch(strings.Repeat("*a", 30)+"b", strings.Repeat("a", 60), false) {
		t.Error("pathological")
	}
}

func TestSet(t *testing.T) {
	c := NewServer()
	errs := []struct {
		pairs [][2]string
		want  string
	}{
		{[][2]string{{"foo", "bar"}}, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"},
		{[][2]string{{"include", "x"}}, "ERR Unknown option or number of arguments for CONFIG SET - 'include'"},
		{[][2]string{{"daemonize", "yes"}}, "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"},
		{[][2]string{{"dir", "/tmp"}}, "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"},
		{[][2]string{{"port", "1"}, {"PORT", "2"}}, "ERR CONFIG SET failed (possibly related to argument 'PORT') - duplicate parameter"},
		{[][2]string{{"maxmemory", "1x"}}, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"},
		{[][2]string{{"hz", "abc"}}, "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"},
		{[][2]string{{"loglevel", "foo"}}, "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"},
		{[][2]string{{"save", "1 2 3"}}, "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"},
		{[][2]string{{"timeout", "-1"}}, "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"},
		{[][2]string{{"proto-max-bulk-len", "10"}}, "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"},
		{[][2]string{{"oom-score-adj-values", "0 200"}}, "ERR CONFIG SET failed (possibly related to argument 'oom-score-adj-values') - wrong number of arguments"},
		// atomic: the valid first pair is not applied
		{[][2]string{{"hz", "20"}, {"maxmemory", "bad"}}, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"},
	}
	for _, tc := range errs {
		err := c.Set(tc.pairs)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v", tc.pairs, err)
		}
	}
	if c.Int("hz") != 10 {
		t.Error("partial apply")
	}
	if err := c.Set([][2]string{{"replica-read-only", "no"}, {"slave-read-only", "yes"}}); err != nil || !c.Bool("replica-read-only") {
		t.Errorf("alias pair: %v", err)
	}
	if err := c.Set([][2]string{{"MaxMemory", "1GB"}, {"client-output-buffer-limit", "normal 1mb 2k 3 slave 1 2 3"}, {"notify-keyspace-events", "Ex"}}); err != nil {
		t.Fatal(err)
	}
	if get1(c, "maxmemory") != "1073741824" || get1(c, "notify-keyspace-events") != "xE" ||
		get1(c, "client-output-buffer-limit") != "normal 1048576 2000 3 slave 1 2 3 pubsub 33554432 8388608 60" {
		t.Errorf("%v", c.Get("maxmemory", "notify-keyspace-events", "client-output-buffer-limit"))
	}
	p := NewServer()
	mustLoad(t, p, "enable-protected-configs local")
	if p.Set([][2]string{{"dir", "/tmp"}}) == nil || p.SetLocal([][2]string{{"dir", "/tmp"}}, true) != nil {
		t.Error("protected local")
	}
}

func TestSetHooksRollback(t *testing.T) {
	c := NewServer()
	var log []string
	c.OnChange("port", func(o, n string) error { log = append(log, "port "+o+"->"+n); return nil })
	c.OnChange("maxmemory", func(o, n string) error {
		log = append(log, "maxmemory "+o+"->"+n)
		if n == "666" {
			return errors.New("Unable to apply")
		}
		return nil
	})
	c.OnChange("hz", func(o, n string) error { log = append(log, "hz"); return nil })
	err := c.Set([][2]string{{"port", "7001"}, {"maxmemory", "666"}, {"hz", "10"}})
	want := "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - Unable to apply"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
	if c.Int("port") != 6379 || c.Int("maxmemory") != 0 {
		t.Error("not rolled back")
	}
	if got := strings.Join(log, ";"); got != "port 6379->7001;maxmemory 0->666;port 7001->6379" {
		t.Errorf("hooks: %s", got)
	}
	if err := c.Set([][2]string{{"port", "7001"}}); err != nil || c.Int("port") != 7001 {
		t.Error(err)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "rewrite", name)
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func copyToTemp(t *testing.T, src string) string {
	data, err := os.ReadFile(filepath.Join("testdata", "rewrite", src))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "x.conf")
	os.WriteFile(dst, data, 0o640)
	return dst
}

func TestRewrite(t *testing.T) {
	if err := NewServer().Rewrite(); err == nil || err.Error() != "ERR The server is running without a config file" {
		t.Errorf("no file: %v", err)
	}
	f := copyToTemp(t, "basic.in")
	c := NewServer()
	if err := c.LoadFile(f); err != nil {
		t.Fatal(err)
	}
	err := c.Set([][2]string{{"hz", "20"}, {"maxmemory", "1mb"}, {"slave-read-only", "no"}, {"loglevel", "notice"},
		{"timeout", "5"}, {"client-output-buffer-limit", "pubsub 1mb 1mb 1"}, {"notify-keyspace-events", "KEA"}, {"requirepass", "a b"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Rewrite(); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(f)
	golden(t, "basic.golden", string(out))
	if st, _ := os.Stat(f); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
	// Reloading the rewritten file gives the same state.
	r := NewServer()
	if err := r.LoadFile(f); err != nil {
		t.Fatal(err)
	}
	if a, b := c.Get("*"), r.Get("*"); !sameGet(a, b) {
		t.Error("reload differs")
	}
	// Rewriting again is stable.
	if err := r.Rewrite(); err != nil {
		t.Fatal(err)
	}
	out2, _ := os.ReadFile(f)
	if string(out2) != string(out) {
		t.Errorf("second rewrite differs:\n%s", out2)
	}
}

func TestRewriteSentinel(t *testing.T) {
	f := copyToTemp(t, "sentinel.in")
	c := NewSentinel()
	if err := c.LoadFile(f); err != nil {
		t.Fatal(err)
	}
	lines := [][]string{
		{"myid", "1cc6ea274c6024057e008a51591d951d15d2869e"},
		{"monitor", "mymaster", "127.0.0.1", "27431", "2"},
		{"down-after-milliseconds", "mymaster", "6000"},
		{"failover-timeout", "mymaster", "60000"},
		{"config-epoch", "mymaster", "0"},
		{"leader-epoch", "mymaster", "0"},
		{"current-epoch", "0"},
	}
	if err := c.RewriteSentinel(lines); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(f)
	golden(t, "sentinel.golden", string(out))
	if len(c.SentinelLines()) != len(lines) {
		t.Error("lines not updated")
	}
	r := NewSentinel()
	if err := r.LoadFile(f); err != nil {
		t.Fatal(err)
	}
	if len(r.SentinelLines()) != len(lines) {
		t.Errorf("reloaded %d sentinel lines", len(r.SentinelLines()))
	}
}

func sameGet(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"port 6379\nbind 127.0.0.1 -::1\nsave 900 1\nsave 60 100\n",
		"save \"\"\nrequirepass \"a b\\x00\"\nclient-output-buffer-limit pubsub 1mb 2kb 3\n",
		"notify-keyspace-events KEA\nmaxmemory-clients 5%\nunixsocketperm 700\nrename-command CONFIG \"\"\n",
		"replicaof 10.0.0.1 6379\nslave-read-only no\nlatency-tracking-info-percentiles 50 99.5\n",
		"# c\r\n\r\nmaxmemory 1gb\r\nshutdown-on-sigint nosave now\n",
		"port \"abc\nfoo",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c := NewServer()
		c.noInclude = true
		if c.LoadReader("fuzz.conf", strings.NewReader(text)) != nil {
			return
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "f.conf")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		c.file = path
		c.noSync = true
		if err := c.Rewrite(); err != nil {
			t.Fatal(err)
		}
		r := NewServer()
		r.noInclude = true
		data, _ := os.ReadFile(path)
		if err := r.LoadReader("rewritten.conf", strings.NewReader(string(data))); err != nil {
			t.Fatalf("rewritten file does not load: %v\n%s", err, data)
		}
		a, b := c.Get("*"), r.Get("*")
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: %q -> %q\n%s", a[i][0], a[i][1], b[i][1], data)
			}
		}
	})
}

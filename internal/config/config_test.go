package config

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func loadString(t *testing.T, c *Config, text string) error {
	t.Helper()
	return c.LoadReader("test.conf", strings.NewReader(text))
}

func mustLoad(t *testing.T, c *Config, text string) *Config {
	t.Helper()
	if err := loadString(t, c, text); err != nil {
		t.Fatalf("load %q: %v", text, err)
	}
	return c
}

func get1(c *Config, name string) string {
	r := c.Get(name)
	if len(r) != 1 {
		return "<missing>"
	}
	return r[0][1]
}

// readTSV reads a testdata table, skipping '#' comments.
func readTSV(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	return rows
}

// Values that differ from the defaults because of the golden server's
// command line, or by design (dir is the configured path).
var goldenExceptions = map[string]string{
	"port": "6379", "bind": "* -::*", "save": "3600 1 300 100 60 10000",
}

func TestGoldenConfigGet(t *testing.T) {
	c := NewServer()
	got := map[string]string{}
	for _, kv := range c.Get("*") {
		got[kv[0]] = kv[1]
	}
	want := map[string]bool{}
	for _, row := range readTSV(t, "redis-7.0-config-get.txt") {
		name, val := row[0], row[1]
		want[name] = true
		g, ok := got[name]
		if !ok {
			t.Errorf("CONFIG GET * lacks %s", name)
			continue
		}
		if ex, ok := goldenExceptions[name]; ok {
			val = ex
		}
		if name == "dir" {
			continue
		}
		if g != val {
			t.Errorf("default %s = %q, redis has %q", name, g, val)
		}
	}
	for name := range got {
		if !want[name] && !strings.HasPrefix(name, "vigil-") {
			t.Errorf("CONFIG GET * has %s which redis 7.0 has not", name)
		}
	}
	for _, n := range []string{"vigil-safe-mode", "vigil-min-ack-replicas", "vigil-fence-timeout"} {
		if _, ok := got[n]; !ok {
			t.Errorf("missing %s", n)
		}
	}
}

// TestProbe replays the errors real redis-server 7.0.15 gave for one-line
// config files, and its CONFIG SET mutability.
func TestProbe(t *testing.T) {
	for _, row := range readTSV(t, "redis-7.0-probe.tsv") {
		name := row[0]
		if name == "dir" {
			continue // checked by the server, not here
		}
		for i, val := range []string{"9223372036854775807", "-9223372036854775808", "zzz", "a b"} {
			line := name + " " + val
			err := loadString(t, NewServer(), line)
			want := row[2+i]
			got := ""
			if err != nil {
				var le *LoadError
				if !errors.As(err, &le) {
					t.Fatalf("%s: not a LoadError: %v", line, err)
				}
				got = le.Reason
			}
			if got != want {
				t.Errorf("%q: got %q, redis says %q", line, got, want)
			}
		}
		d := NewServer().Lookup(name)
		switch row[6] {
		case "OK":
			if !d.Mutable || d.Protected {
				t.Errorf("%s should be mutable", name)
			}
		case "can't set immutable config":
			if d.Mutable {
				t.Errorf("%s should be immutable", name)
			}
		case "can't set protected config":
			if !d.Protected {
				t.Errorf("%s should be protected", name)
			}
		}
	}
}

func TestSeedFiles(t *testing.T) {
	c := NewServer()
	if err := c.LoadFile("testdata/redis-master.conf"); err != nil {
		t.Fatal(err)
	}
	if c.Int("port") != 6379 || !c.Bool("daemonize") || c.Bool("protected-mode") || c.Int("tcp-keepalive") != 300 {
		t.Errorf("master values wrong: %v", c.Get("port", "daemonize", "protected-mode", "tcp-keepalive"))
	}
	if got := c.Strings("bind"); len(got) != 1 || got[0] != "192.168.1.10" {
		t.Errorf("bind = %v", got)
	}
	if c.String("dir") != "/var/lib/redis" || c.String("logfile") != "/var/log/redis/redis-server.log" {
		t.Errorf("paths: %v", c.Get("dir", "logfile"))
	}
	if abs, _ := filepath.Abs("testdata/redis-master.conf"); c.File() != abs {
		t.Errorf("File() = %q", c.File())
	}

	r := NewServer()
	if err := r.LoadFile("testdata/redis-replica-1.conf"); err != nil {
		t.Fatal(err)
	}
	if got := r.Strings("replicaof"); len(got) != 2 || got[0] != "192.168.1.10" || got[1] != "6379" {
		t.Errorf("replicaof = %v", got)
	}
	if get1(r, "slaveof") != "192.168.1.10 6379" {
		t.Errorf("slaveof = %q", get1(r, "slaveof"))
	}

	s := NewSentinel()
	if err := s.LoadFile("testdata/sentinel.conf"); err != nil {
		t.Fatal(err)
	}
	if s.Int("port") != 26379 {
		t.Errorf("sentinel port %d", s.Int("port"))
	}
	lines := s.SentinelLines()
	if len(lines) != 4 || strings.Join(lines[0].Args, " ") != "monitor mymaster 192.168.1.10 6379 2" || lines[0].Line != 12 {
		t.Errorf("sentinel lines: %+v", lines)
	}
	// A sentinel config is refused in server mode, like Redis.
	err := NewServer().LoadFile("testdata/sentinel.conf")
	if err == nil || !strings.Contains(err.Error(), "sentinel directive while not in sentinel mode") {
		t.Errorf("server mode sentinel: %v", err)
	}
}

func TestDebianStock(t *testing.T) {
	if err := NewServer().LoadFile("testdata/debian-redis.conf"); err != nil {
		t.Fatal(err)
	}
	s := NewSentinel()
	if err := s.LoadFile("testdata/debian-sentinel.conf"); err != nil {
		t.Fatal(err)
	}
	if len(s.SentinelLines()) != 8 {
		t.Errorf("sentinel lines %d", len(s.SentinelLines()))
	}
}

// TestUncommentEveryDirective uncomments every "# directive args" example
// of the stock files and loads it.
func TestUncommentEveryDirective(t *testing.T) {
	// Prose lines that start with a directive name but are not examples.
	prose := regexp.MustCompile(`<|configuration|directive|is set to|set to 'no'|has no effect|to positive|and sentinel|^# user name`)
	re := regexp.MustCompile(`^#\s?([a-z][a-z0-9_-]*)\s+\S`)
	for _, f := range []string{"debian-redis.conf", "debian-sentinel.conf"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, line := range strings.Split(string(data), "\n") {
			m := re.FindStringSubmatch(line)
			if m == nil || prose.MatchString(line) {
				continue
			}
			c := NewServer()
			if f == "debian-sentinel.conf" {
				c = NewSentinel()
			}
			if c.Lookup(m[1]) == nil && m[1] != "sentinel" {
				continue
			}
			text := strings.TrimPrefix(strings.TrimPrefix(line, "#"), " ")
			if j := strings.Index(text, "   #"); j > 0 { // trailing comment
				text = text[:j]
			}
			if m[1] == "include" {
				continue // tested in TestInclude (paths do not exist)
			}
			n++
			if err := loadString(t, c, text); err != nil {
				t.Errorf("%s:%d %q: %v", f, i+1, text, err)
			}
		}
		if n < 4 {
			t.Errorf("%s: only %d examples found", f, n)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"port 1\nfoo bar\n", "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments"},
		{"port abc", "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 1\n>>> 'port abc'\nargument couldn't be parsed into an integer"},
		{"  port 99999  \r\n", "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 1\n>>> 'port 99999'\nargument must be between 0 and 65535 inclusive"},
		{"\n\nloglevel foo", "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'loglevel foo'\nargument(s) must be one of the following: debug, verbose, notice, warning"},
		{"port 1 2", "wrong number of arguments"},
		{"maxmemory 1x", "argument must be a memory value"},
		{"maxmemory -1", "argument must be a memory value"},
		{"maxmemory 99999999999999999999", "argument must be a memory value"},
		{"daemonize maybe", "argument must be 'yes' or 'no'"},
		{"save 1", "Invalid save parameters"},
		{"save 0 1", "Invalid save parameters"},
		{"save 10 -1", "Invalid save parameters"},
		{"rename-command a", "Bad directive or wrong number of arguments"},
		{`port "abc`, "Unbalanced quotes in configuration line"},
		{`port "1"x`, "Unbalanced quotes in configuration line"},
		{"timeout -1", "argument must be between 0 and 2147483647 inclusive"},
		{"hz 010", "argument couldn't be parsed into an integer"},
		{"hz +5", "argument couldn't be parsed into an integer"},
		{"hz 9223372036854775808", "argument couldn't be parsed into an integer"},
		{"notify-keyspace-events Z", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."},
		{"client-output-buffer-limit foo 1 2 3", "Invalid client class specified in buffer limit configuration."},
		{"client-output-buffer-limit normal 1 2", "Wrong number of arguments in buffer limit configuration."},
		{"client-output-buffer-limit normal 1x 2 3", "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
		{"replicaof a", "wrong number of arguments"},
		{"replicaof a 99999", "Invalid master port"},
		{"maxmemory-policy x y", "wrong number of arguments"},
		{"dbfilename a/b", "dbfilename can't be a path, just a filename"},
		{"appenddirname a/b", "appenddirname can't be a path, just a dirname"},
		{"unixsocketperm 999", "argument couldn't be parsed as an octal number"},
		{"unixsocketperm 7777", "argument must be between 0 and 777 inclusive"},
		{"maxmemory-clients 101%", "percentage argument must be less or equal to 100"},
		{"oom-score-adj-values 0 200 3000", "Invalid oom-score-adj-values, elements must be between -2000 and 2000."},
		{"sentinel monitor a", "sentinel directive while not in sentinel mode"},
		{"include", "Bad directive or wrong number of arguments"},
	}
	for _, tc := range cases {
		err := loadString(t, NewServer(), tc.text)
		var le *LoadError
		if !errors.As(err, &le) {
			t.Errorf("%q: got %v", tc.text, err)
			continue
		}
		got := le.Reason
		if strings.HasPrefix(tc.want, "\n") {
			got = le.Error()
		}
		if got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.text, got, tc.want)
		}
		if le.File != "test.conf" || !strings.Contains(le.Where(), "test.conf") {
			t.Errorf("%q: file %q where %q", tc.text, le.File, le.Where())
		}
	}
	err := NewServer().LoadFile("/nonexistent/x.conf")
	if err == nil || err.Error() != "Fatal error, can't open config file '/nonexistent/x.conf': No such file or directory" {
		t.Errorf("open error: %v", err)
	}
}

func TestValues(t *testing.T) {
	c := mustLoad(t, NewServer(), strings.Join([]string{
		"MAXMEMORY 1kb", "repl-backlog-size 1k", "client-query-buffer-limit 2GB",
		"appendonly YES", "maxmemory-policy ALLKEYS-LRU", "notify-keyspace-events KEA",
		"bind 127.0.0.1 -::1", `requirepass ""`, `masterauth "p w\x41"`, "rename-command CONFIG \"\"",
		"rename-command flushall 'my flush'", "client-output-buffer-limit replica 1mb 2kb 3",
		"unixsocketperm 700", "maxmemory-clients 5%", "slave-read-only no", "lua-time-limit 100",
		"latency-tracking-info-percentiles 50.0 99.90", "vigil-safe-mode yes", "vigil-fence-timeout 1500",
	}, "\n"))
	checks := map[string]string{
		"maxmemory": "1024", "repl-backlog-size": "1000", "client-query-buffer-limit": "2147483648",
		"appendonly": "yes", "maxmemory-policy": "allkeys-lru", "notify-keyspace-events": "AKE",
		"bind": "127.0.0.1 -::1", "requirepass": "", "masterauth": "p wA",
		"client-output-buffer-limit": "normal 0 0 0 slave 1048576 2048 3 pubsub 33554432 8388608 60",
		"unixsocketperm":             "700", "maxmemory-clients": "5%", "replica-read-only": "no",
		"busy-reply-threshold": "100", "latency-tracking-info-percentiles": "50 99.9",
		"vigil-safe-mode": "yes", "vigil-fence-timeout": "1500", "vigil-min-ack-replicas": "0",
	}
	for k, want := range checks {
		if got := get1(c, k); got != want {
			t.Errorf("%s = %q want %q", k, got, want)
		}
	}
	if c.Int("maxmemory") != 1024 || !c.Bool("appendonly") || c.String("maxmemory-policy") != "allkeys-lru" {
		t.Error("typed access")
	}
	if c.Int("notify-keyspace-events") != NotifyAll|NotifyKeyspace|NotifyKeyevent {
		t.Error("notify mask")
	}
	if c.Int("unixsocketperm") != 0o700 || c.Int("maxmemory-clients") != -5 {
		t.Error("octal / percent")
	}
	if h, s, sec := c.ClientOutputBufferLimit("slave"); h != 1<<20 || s != 2048 || sec != 3 {
		t.Errorf("cob %d %d %d", h, s, sec)
	}
	if r := c.Renames(); r["config"] != "" || r["flushall"] != "my flush" || len(r) != 2 {
		t.Errorf("renames %v", r)
	}
	if c.Lookup("SLAVEOF").Name != "replicaof" || c.Lookup("nope") != nil {
		t.Error("lookup")
	}
	ne := NewServer()
	mustLoad(t, ne, "io-threads 4\nactivedefrag no\nloadmodule /x.so\nport 1")
	if got := strings.Join(ne.NoEffectSet(), ","); got != "loadmodule,io-threads" {
		t.Errorf("NoEffectSet = %q", got)
	}
}

func TestSaveSemantics(t *testing.T) {
	cases := []struct {
		file string
		args []string
		want string
	}{
		{"", nil, "3600 1 300 100 60 10000"},
		{"save 900 1\nsave 300 10", nil, "900 1 300 10"},
		{"save 900 1", []string{"--save", "60", "1"}, "900 1 60 1"},
		{"save 900 1", []string{"--save", ""}, ""},
		{"save 900 1", []string{"--save"}, ""},
		{"", []string{"--save", "60", "1", "--save", "30", "2"}, "60 1 30 2"},
		{"save \"\"\nsave 5 5", nil, "5 5"},
		{"save 1 2 3 4\nsave \"\"", nil, ""},
		{"save 1 0", nil, "1 0"},
	}
	for _, tc := range cases {
		c := mustLoad(t, NewServer(), tc.file)
		if err := c.ApplyArgs(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := get1(c, "save"); got != tc.want {
			t.Errorf("%q %q: save = %q want %q", tc.file, tc.args, got, tc.want)
		}
	}
	c := mustLoad(t, NewServer(), "save 900 1")
	if err := c.Set([][2]string{{"save", "10 1 20 2"}}); err != nil || get1(c, "save") != "10 1 20 2" {
		t.Errorf("set save: %v %q", err, get1(c, "save"))
	}
	if err := c.Set([][2]string{{"save", ""}}); err != nil || get1(c, "save") != "" || len(c.Strings("save")) != 0 {
		t.Errorf("set save empty: %v %q", err, get1(c, "save"))
	}
}

func TestApplyArgs(t *testing.T) {
	c := NewServer()
	if err := c.ApplyArgs([]string{"--port", "7001", "--bind", "127.0.0.1", "-::1", "--save", "", "--loglevel", "warning"}); err != nil {
		t.Fatal(err)
	}
	if c.Int("port") != 7001 || get1(c, "bind") != "127.0.0.1 -::1" || get1(c, "save") != "" || c.String("loglevel") != "warning" {
		t.Errorf("%v", c.Get("port", "bind", "save", "loglevel"))
	}
	// Line numbers continue after the file, like Redis's joined config.
	err := NewServer().ApplyArgs([]string{"--port", "abc"})
	want := "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'port \"abc\"'\nargument couldn't be parsed into an integer"
	if err == nil || err.Error() != want {
		t.Errorf("got %q", err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "r.conf")
	os.WriteFile(f, []byte("port 1\n"), 0o644)
	c = NewServer()
	if err := c.LoadFile(f); err != nil {
		t.Fatal(err)
	}
	err = c.ApplyArgs([]string{"--port", "27433", "--bind", "127.0.0.1", "--maxmemory", "1x"})
	var le *LoadError
	if !errors.As(err, &le) || le.Line != 5 || le.Text != `maxmemory "1x"` || le.Where() != "in the command line arguments" {
		t.Errorf("got %#v", err)
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "frag"), 0o755)
	os.WriteFile(filepath.Join(dir, "frag", "a.conf"), []byte("maxclients 500\nsave 10 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "frag", "b.conf"), []byte("maxclients 600\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.conf"), []byte("# x\nhz nope\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "loop.conf"), []byte("include "+filepath.Join(dir, "loop.conf")+"\n"), 0o644)
	main := filepath.Join(dir, "main.conf")
	os.WriteFile(main, []byte("save 20 2\ninclude "+filepath.Join(dir, "frag", "*.conf")+"\nport 7000\n"), 0o644)
	c := NewServer()
	if err := c.LoadFile(main); err != nil {
		t.Fatal(err)
	}
	if c.Int("maxclients") != 600 || get1(c, "save") != "20 2 10 1" || c.File() != main {
		t.Errorf("%v %q", c.Get("maxclients", "save"), c.File())
	}
	err := loadString(t, NewServer(), "include "+filepath.Join(dir, "bad.conf"))
	var le *LoadError
	if !errors.As(err, &le) || le.File != filepath.Join(dir, "bad.conf") || le.Line != 2 {
		t.Errorf("nested error: %#v", err)
	}
	if err := loadString(t, NewServer(), "include "+filepath.Join(dir, "loop.conf")); err == nil {
		t.Error("include loop accepted")
	}
}

func TestSplitArgs(t *testing.T) {
	cases := map[string][]string{
		`a b   c`:             {"a", "b", "c"},
		`"a b" 'c d'`:         {"a b", "c d"},
		`"\x41\n\"" ''`:       {"A\n\"", ""},
		`'it\'s'`:             {"it's"},
		"a\tb":                {"a", "b"},
		`"\q"`:                {"q"},
		`rename-command X ""`: {"rename-command", "X", ""},
	}
	for in, want := range cases {
		got, err := SplitArgs(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{`"abc`, `'abc`, `"a"b`, `'a'b`} {
		if _, err := SplitArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, s := range []string{"", "a b", "x\x00\xff\"'\\\n\t", "#"} {
		got, err := SplitArgs(Quote(s))
		if err != nil || len(got) != 1 || got[0] != s {
			t.Errorf("quote roundtrip %q: %q %v", s, got, err)
		}
	}
}

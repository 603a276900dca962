package ops

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

var goldenCases = []struct{ name, topology string }{
	{"tutorial", "../../examples/tutorial-topology.yaml"},
	{"ha-auth", "testdata/ha-auth.yaml"},
}

func renderFile(t *testing.T, path, seed string) *Bundle {
	t.Helper()
	top, warn, err := LoadTopology(path)
	if err != nil {
		t.Fatal(err)
	}
	return RenderBundle(top, newSecretGen(seed, true), warn)
}

// TestPlanGolden compares the bundle with testdata/golden/NAME/ (go test
// -run TestPlanGolden -update rewrites it).
func TestPlanGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			b := renderFile(t, c.topology, "42")
			dir := filepath.Join("testdata", "golden", c.name)
			if *update {
				os.RemoveAll(dir)
				if err := b.Write(dir); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := map[string]bool{}
			filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					r, _ := filepath.Rel(dir, p)
					want[filepath.ToSlash(r)] = true
				}
				return nil
			})
			for _, f := range b.Files {
				g, err := os.ReadFile(filepath.Join(dir, f.Path))
				if err != nil {
					t.Errorf("%s: not in golden (run with -update): %v", f.Path, err)
					continue
				}
				delete(want, f.Path)
				if string(g) != f.Data {
					t.Errorf("%s differs from golden (run with -update after checking):\n%s", f.Path, firstDiff(string(g), f.Data))
				}
			}
			for p := range want {
				t.Errorf("golden file %s is no longer generated", p)
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}

func TestPlanDeterminismAndSecrets(t *testing.T) {
	a := renderFile(t, goldenCases[0].topology, "7")
	b := renderFile(t, goldenCases[0].topology, "7")
	c := renderFile(t, goldenCases[0].topology, "8")
	top, _, _ := LoadTopology(goldenCases[0].topology)
	r1 := RenderBundle(top, newSecretGen("", false), nil)
	r2 := RenderBundle(top, newSecretGen("", false), nil)
	get := func(b *Bundle, p string) string {
		for _, f := range b.Files {
			if f.Path == p {
				return f.Data
			}
		}
		t.Fatalf("no %s", p)
		return ""
	}
	if get(a, "secrets.env") != get(b, "secrets.env") {
		t.Error("same seed, different secrets")
	}
	if get(a, "secrets.env") == get(c, "secrets.env") || get(r1, "secrets.env") == get(r2, "secrets.env") {
		t.Error("different seeds (or crypto/rand) gave the same secrets")
	}
	// One password, wired everywhere it must be.
	pw := strings.TrimPrefix(strings.Split(get(a, "secrets.env"), "\n")[2], "VIGIL_PASSWORD=")
	if len(pw) != 40 {
		t.Fatalf("password %q", pw)
	}
	for _, f := range a.Files {
		switch {
		case strings.HasSuffix(f.Path, "redis.conf"):
			for _, want := range []string{"requirepass " + pw, "masterauth " + pw, "protected-mode yes", "dir /var/lib/vigil"} {
				if !strings.Contains(f.Data, want+"\n") {
					t.Errorf("%s lacks %q", f.Path, want)
				}
			}
		case strings.HasSuffix(f.Path, "sentinel.conf"):
			if !strings.Contains(f.Data, "sentinel auth-pass mymaster "+pw+"\n") {
				t.Errorf("%s lacks auth-pass", f.Path)
			}
		case strings.HasSuffix(f.Path, ".service"):
			for _, want := range []string{"User=vigil", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=", "PrivateTmp=yes", "LimitNOFILE=", "Restart=always", "ExecStart=/usr/local/bin/vigil "} {
				if !strings.Contains(f.Data, want) {
					t.Errorf("%s lacks %q", f.Path, want)
				}
			}
		}
		if f.Mode&0o077 != 0 && strings.Contains(f.Data, pw) {
			t.Errorf("%s holds the password but has mode %v", f.Path, f.Mode)
		}
	}
	php := get(a, "predis-client.php")
	if !strings.Contains(php, "'replication' => 'sentinel'") || !strings.Contains(php, "'password' => '"+pw+"'") {
		t.Errorf("predis client:\n%s", php)
	}
}

func TestPlanFirewall(t *testing.T) {
	b := renderFile(t, goldenCases[0].topology, "1")
	for _, f := range b.Files {
		if !strings.HasSuffix(f.Path, "firewall.sh") {
			continue
		}
		var rules []string
		for _, l := range strings.Split(f.Data, "\n") {
			if strings.HasPrefix(l, "ufw allow from") {
				rules = append(rules, strings.Join(strings.Fields(l)[3:8], " ")) // ADDR to any port N
			}
		}
		for _, want := range []string{"ufw default deny incoming", "ufw allow 22/tcp", "ufw --force enable"} {
			if !strings.Contains(f.Data, want) {
				t.Errorf("%s lacks %q", f.Path, want)
			}
		}
		var want []string
		if strings.HasPrefix(f.Path, "redis-sentinel") {
			want = []string{"192.168.1.12 to any port 26379", "192.168.1.13 to any port 26379", "192.168.1.14 to any port 26379", "192.168.1.20 to any port 26379"}
		} else {
			other := "192.168.1.11"
			if strings.HasPrefix(f.Path, "redis-replica-1") {
				other = "192.168.1.10"
			}
			want = []string{"192.168.1.12 to any port 6379", "192.168.1.13 to any port 6379", "192.168.1.14 to any port 6379", other + " to any port 6379", "192.168.1.20 to any port 6379"}
		}
		if strings.Join(rules, "|") != strings.Join(want, "|") {
			t.Errorf("%s rules:\n got %q\nwant %q", f.Path, rules, want)
		}
	}
}

func TestPlanCommand(t *testing.T) {
	var out, errb bytes.Buffer
	Stdout, Stderr = &out, &errb
	defer func() { Stdout, Stderr = os.Stdout, os.Stderr }()
	dir := t.TempDir()
	if rc := Plan([]string{"../../examples/tutorial-topology.yaml", "--out", dir, "--secret-seed", "42"}); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	if !strings.Contains(errb.String(), "warning: only one replica") {
		t.Errorf("stderr: %q", errb.String())
	}
	g, _ := os.ReadFile("testdata/golden/tutorial/redis-master/redis.conf")
	w, _ := os.ReadFile(filepath.Join(dir, "redis-master/redis.conf"))
	if string(g) != string(w) {
		t.Error("vigil plan --secret-seed 42 output differs from golden")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "secrets.env")); fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets.env mode %v", fi.Mode())
	}
	errb.Reset()
	if rc := Plan([]string{"../../examples/tutorial-topology.yaml", "--out", dir}); rc != 1 || !strings.Contains(errb.String(), "is not empty") {
		t.Errorf("non-empty out: rc %d, %q", rc, errb.String())
	}
	errb.Reset()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(validTopo, "quorum: 2", "quorum: 5", 1)), 0o644)
	if rc := Plan([]string{bad, "--out", t.TempDir()}); rc != 1 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "vigil plan: ") {
		t.Errorf("bad topology: rc %d, %q", rc, errb.String())
	}
	errb.Reset()
	if rc := Plan([]string{"--out", dir}); rc != 2 {
		t.Errorf("missing topology: rc %d", rc)
	}
	out.Reset()
	if rc := Plan([]string{"--help"}); rc != 0 || !strings.Contains(out.String(), "Example:") {
		t.Errorf("--help: rc %d %q", rc, out.String())
	}
}

// TestPlanConfigsLoad checks every generated config with `vigil server
// --test-config` (which only parses: nothing is bound or dialed).
func TestPlanConfigsLoad(t *testing.T) {
	bin := testutil.VigilBin(t)
	for _, c := range goldenCases {
		b := renderFile(t, c.topology, "42")
		dir := t.TempDir()
		if err := b.Write(dir); err != nil {
			t.Fatal(err)
		}
		for _, f := range b.Files {
			var args []string
			switch {
			case strings.HasSuffix(f.Path, "redis.conf"):
				args = []string{"server", "--test-config", filepath.Join(dir, f.Path)}
			case strings.HasSuffix(f.Path, "sentinel.conf"):
				cp := filepath.Join(t.TempDir(), "sentinel.conf")
				os.WriteFile(cp, []byte(f.Data), 0o600)
				args = []string{"sentinel", cp, "--test-config"}
			default:
				continue
			}
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Configuration OK") {
				t.Errorf("%s/%s: %v\n%s", c.name, f.Path, err, out)
			}
		}
	}
}

// TestPlanConfigsRunOnLoopback starts every generated config for real with
// Debian's redis-server/redis-sentinel and with vigil. The configs name
// private 192.168.x/10.x addresses, which must never be bound or dialed
// here, so the test runs a copy in which bind, port, dir, logfile,
// pidfile, replicaof and the monitored master point at 127.0.0.1 and temp
// paths; every other directive is loaded as generated. Then it checks the
// password wiring through the running server.
func TestPlanConfigsRunOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	redisServer := testutil.RequireTool(t, "redis-server")
	redisSentinel := testutil.RequireTool(t, "redis-sentinel")
	vigil := testutil.VigilBin(t)
	b := renderFile(t, goldenCases[1].topology, "42") // sentinel-auth: both passwords
	pw, spw := "", ""
	for _, f := range b.Files {
		if f.Path == "secrets.env" {
			for _, l := range strings.Split(f.Data, "\n") {
				if v, ok := strings.CutPrefix(l, "VIGIL_PASSWORD="); ok {
					pw = v
				}
				if v, ok := strings.CutPrefix(l, "VIGIL_SENTINEL_PASSWORD="); ok {
					spw = v
				}
			}
		}
	}
	dead := testutil.FreePort(t) // nothing listens: replicas and Sentinels just retry
	for _, f := range b.Files {
		isSentinel := strings.HasSuffix(f.Path, "sentinel.conf")
		if !isSentinel && !strings.HasSuffix(f.Path, "redis.conf") {
			continue
		}
		if !strings.HasPrefix(f.Path, "data-a/") && !strings.HasPrefix(f.Path, "data-b/") && !strings.HasPrefix(f.Path, "sentinel-1/") {
			continue // the others are the same shape
		}
		for _, impl := range []string{"debian", "vigil"} {
			t.Run(impl+"/"+f.Path, func(t *testing.T) {
				dir := t.TempDir()
				port := testutil.FreePort(t)
				conf := loopbackCopy(t, f.Data, dir, port, dead)
				var cmd *exec.Cmd
				switch {
				case impl == "debian" && isSentinel:
					cmd = exec.Command(redisSentinel, conf)
				case impl == "debian":
					cmd = exec.Command(redisServer, conf)
				case isSentinel:
					cmd = exec.Command(vigil, "sentinel", conf)
				default:
					cmd = exec.Command(vigil, "server", conf)
				}
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { cmd.Process.Kill(); cmd.Wait() }()
				addr := "127.0.0.1:" + strconv.Itoa(port)
				var c *client
				deadline := time.Now().Add(10 * time.Second)
				pass := pw
				if isSentinel {
					pass = spw
				}
				for {
					var err error
					if c, err = dial(addr, pass, time.Second); err == nil {
						break
					}
					if time.Now().After(deadline) {
						log, _ := os.ReadFile(filepath.Join(dir, "log"))
						t.Fatalf("did not start: %v\n%s%s", err, out.String(), log)
					}
					time.Sleep(50 * time.Millisecond)
				}
				defer c.Close()
				// Unauthenticated access is refused.
				if nc, err := dial(addr, "", time.Second); err == nil {
					v, _ := nc.do("PING")
					nc.Close()
					if !strings.HasPrefix(string(v.Str), "NOAUTH") {
						t.Errorf("PING without password: %v", v)
					}
				}
				if isSentinel {
					v, err := c.do("SENTINEL", "MASTER", "shop-cache")
					if err != nil || v.Err() != nil {
						t.Fatalf("SENTINEL MASTER: %v %v", v, err)
					}
					m := fields(v)
					if m["quorum"] != "3" || m["down-after-milliseconds"] != "3000" || m["failover-timeout"] != "30000" || m["parallel-syncs"] != "2" {
						t.Errorf("SENTINEL MASTER: %v", m)
					}
					return
				}
				for k, want := range map[string]string{"masterauth": pw, "requirepass": pw, "appendonly": "yes", "protected-mode": "yes"} {
					v, err := c.do("CONFIG", "GET", k)
					if err != nil || len(v.Elems) != 2 || string(v.Elems[1].Str) != want {
						t.Errorf("CONFIG GET %s = %v %v, want %s", k, v, err, want)
					}
				}
			})
		}
	}
}

// loopbackCopy writes conf with every address and path replaced by local
// ones (see TestPlanConfigsRunOnLoopback) and returns its path.
func loopbackCopy(t *testing.T, conf, dir string, port, dead int) string {
	var out []string
	for _, l := range strings.Split(conf, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			out = append(out, l)
			continue
		}
		switch {
		case f[0] == "bind":
			l = "bind 127.0.0.1"
		case f[0] == "port":
			l = "port " + strconv.Itoa(port)
		case f[0] == "dir":
			l = "dir " + dir
		case f[0] == "logfile":
			l = "logfile " + filepath.Join(dir, "log")
		case f[0] == "pidfile":
			l = "pidfile " + filepath.Join(dir, "pid")
		case f[0] == "replicaof":
			l = fmt.Sprintf("replicaof 127.0.0.1 %d", dead)
		case f[0] == "sentinel" && f[1] == "monitor":
			l = fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %s", f[2], dead, f[5])
		}
		out = append(out, l)
	}
	s := strings.Join(out, "\n")
	for _, l := range out {
		if strings.HasPrefix(l, "#") {
			continue
		}
		for _, private := range []string{"192.168.", "10.0.0."} {
			if strings.Contains(l, private) {
				t.Fatalf("loopback copy still names a private address: %s", l)
			}
		}
	}
	p := filepath.Join(dir, "test.conf")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

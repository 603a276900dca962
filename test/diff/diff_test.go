// Package diff runs the same scripted command sequences against vigil and
// against Debian's real redis-server and compares the replies exactly.
//
// Case files live in testdata/*.txt:
//
//	# a comment
//	=== name of the case
//	SET k v
//	GET k
//	!unordered SMEMBERS s    compare as an unordered collection (SMEMBERS, HGETALL ...)
//	!ignore CLIENT ID        run on both, don't compare the reply
//	!type RANDOMKEY          compare only the reply's type
//	!error SOMECMD           both must reply with an error (text may differ; documented)
//	!sleep 120               wait 120 ms (for expiry cases; keep them rare)
//	!resp3                   switch both connections to RESP3 (HELLO 3)
//	!read                    read one more (pushed) reply from each server and compare
//	!conn2 SET k v           run the command on a second connection (opened lazily,
//	                         also FLUSHALL-free) and compare its reply
//	!raw "PING\r\n"          send raw bytes (redis-cli quoting, one argument) without
//	                         encoding and compare the one reply read back
//	!rawn 2 "..."            like !raw but read 2 replies (0: read none)
//	!noreply SUBSCRIBE c     send without reading a reply (CLIENT REPLY OFF ...)
//	!closed                  both servers must have closed the connection
//	!requires LPUSH HSET     skip the case (counted as skipped) while vigil lacks
//	                         one of these commands (families still being built)
//
// Every case starts with FLUSHALL on a fresh connection on each server.
// Arguments use redis-cli quoting ("a b", 'x', "\x00"). The number of cases
// run is printed, so a suite that silently lost its cases shows.
package diff

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/testutil"
)

type step struct {
	line  int
	mode  string // "", "unordered", "ignore", "type", "error", "sleep", "resp3" ...
	conn2 bool   // run on the second connection (!conn2, combinable)
	read  bool   // read a pushed reply instead of sending (!read, combinable)
	args  []string
	raw   string
}

type testCase struct {
	file  string
	line  int
	name  string
	steps []step
}

func parseFile(t *testing.T, path string) []testCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []testCase
	var cur *testCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	ln := 0
	for sc.Scan() {
		ln++
		text := strings.TrimRight(sc.Text(), "\r")
		trim := strings.TrimSpace(text)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		if strings.HasPrefix(trim, "===") {
			cases = append(cases, testCase{file: filepath.Base(path), line: ln, name: strings.TrimSpace(trim[3:])})
			cur = &cases[len(cases)-1]
			continue
		}
		if cur == nil {
			t.Fatalf("%s:%d: command before the first === case header", path, ln)
		}
		st := step{line: ln, raw: trim}
		for strings.HasPrefix(trim, "!") {
			var d string
			sp := strings.IndexByte(trim, ' ')
			if sp < 0 {
				d = trim[1:]
				trim = ""
			} else {
				d = trim[1:sp]
				trim = strings.TrimSpace(trim[sp+1:])
			}
			if d == "conn2" {
				st.conn2 = true
			} else if d == "read" {
				st.read = true
			} else {
				st.mode = d
			}
		}
		if trim != "" {
			args, err := config.SplitArgs(trim)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, ln, err)
			}
			st.args = args
		}
		switch st.mode {
		case "", "unordered", "ignore", "type", "error", "sleep", "resp3", "read", "conn2", "raw", "rawn", "noreply", "closed", "requires":
		default:
			t.Fatalf("%s:%d: unknown directive !%s", path, ln, st.mode)
		}
		cur.steps = append(cur.steps, st)
	}
	return cases
}

// canon renders a reply for comparison; unordered sorts aggregate elements
// (pairs for maps / flat field-value arrays when pairs is set).
func canon(v resp.Value, unordered bool) string {
	if !unordered || len(v.Elems) == 0 {
		return v.String()
	}
	var parts []string
	if v.Type == '%' {
		for i := 0; i+1 < len(v.Elems); i += 2 {
			parts = append(parts, v.Elems[i].String()+" => "+v.Elems[i+1].String())
		}
	} else {
		for _, e := range v.Elems {
			parts = append(parts, canon(e, true))
		}
	}
	sort.Strings(parts)
	return string(v.Type) + "{" + strings.Join(parts, ", ") + "}"
}

func TestDifferential(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no case files in testdata")
	}
	redis := testutil.StartRedis(t, testutil.StartOptions{})
	vigil := testutil.StartVigil(t, testutil.StartOptions{})
	total, failed, skipped := 0, 0, 0
	for _, f := range files {
		cases := parseFile(t, f)
		for _, c := range cases {
			total++
			if missing := missingCommands(t, vigil.Addr, c); missing != "" {
				skipped++
				t.Logf("%s:%d %q: skipped, vigil lacks %s", c.file, c.line, c.name, missing)
				continue
			}
			msg := runCase(t, c, redis.Addr, vigil.Addr)
			for _, f := range restoreLater {
				f()
			}
			restoreLater = nil
			if msg != "" {
				failed++
				t.Errorf("%s:%d %q: %s", c.file, c.line, c.name, msg)
				if failed > 60 {
					t.Fatalf("too many failures")
				}
			}
		}
	}
	t.Logf("differential: %d cases over %d files, %d failed, %d skipped", total, len(files), failed, skipped)
	fmt.Printf("differential: %d cases, %d passed, %d failed, %d skipped\n", total, total-failed-skipped, failed, skipped)
}

// exact renders a reply with its wire types, so a null bulk and a null
// array, or a status and a bulk string, differ.
func exact(v resp.Value) string {
	var b strings.Builder
	b.WriteByte(v.Type)
	if v.Null {
		b.WriteString("null")
	}
	b.WriteString(strconv.Quote(string(v.Str)))
	b.WriteString(strconv.FormatInt(v.Int, 10))
	b.WriteString(v.Format)
	if len(v.Elems) > 0 {
		b.WriteByte('[')
		for _, e := range v.Elems {
			b.WriteString(exact(e))
			b.WriteByte(',')
		}
		b.WriteByte(']')
	}
	return b.String()
}

// restoreConfig records the directives the case changes with CONFIG SET and
// sets them back at the end of the test, so a failing case can't leak
// settings into the next ones.
func restoreConfig(t *testing.T, c testCase, addrs ...string) {
	var params []string
	for _, st := range c.steps {
		a := st.args
		if len(a) >= 3 && strings.EqualFold(a[0], "config") && strings.EqualFold(a[1], "set") {
			for i := 2; i < len(a); i += 2 {
				params = append(params, a[i])
			}
		}
	}
	if len(params) == 0 {
		return
	}
	for _, addr := range addrs {
		cl, err := testutil.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		var restore []string
		for _, p := range params {
			v, err := cl.Do("CONFIG", "GET", p)
			if err == nil && len(v.Elems) == 2 {
				restore = append(restore, string(v.Elems[0].Str), string(v.Elems[1].Str))
			}
		}
		cl.Close()
		addr := addr
		restoreLater = append(restoreLater, func() {
			cl, err := testutil.Dial(addr)
			if err != nil {
				return
			}
			defer cl.Close()
			for i := 0; i+1 < len(restore); i += 2 {
				cl.Do("CONFIG", "SET", restore[i], restore[i+1])
			}
		})
	}
}

// restoreLater holds the config restores of the running case.
var restoreLater []func()

var haveCommand = map[string]bool{}

// missingCommands returns the commands of the case's !requires lines that
// vigil doesn't implement yet (COMMAND INFO answers null for them).
func missingCommands(t *testing.T, addr string, c testCase) string {
	var missing []string
	for _, st := range c.steps {
		if st.mode != "requires" {
			continue
		}
		for _, name := range st.args {
			name = strings.ToLower(name)
			have, ok := haveCommand[name]
			if !ok {
				cl, err := testutil.Dial(addr)
				if err != nil {
					t.Fatal(err)
				}
				v, err := cl.Do("COMMAND", "INFO", name)
				cl.Close()
				if err != nil {
					t.Fatal(err)
				}
				have = len(v.Elems) == 1 && v.Elems[0].Type == '*' && !v.Elems[0].Null
				haveCommand[name] = have
			}
			if !have {
				missing = append(missing, name)
			}
		}
	}
	return strings.Join(missing, " ")
}

func runCase(t *testing.T, c testCase, redisAddr, vigilAddr string) string {
	rc, err := testutil.Dial(redisAddr)
	if err != nil {
		return "dial redis: " + err.Error()
	}
	defer rc.Close()
	vc, err := testutil.Dial(vigilAddr)
	if err != nil {
		return "dial vigil: " + err.Error()
	}
	defer vc.Close()
	var rc2, vc2 *testutil.Client
	defer func() {
		if rc2 != nil {
			rc2.Close()
		}
		if vc2 != nil {
			vc2.Close()
		}
	}()
	restoreConfig(t, c, redisAddr, vigilAddr)
	for _, cl := range []*testutil.Client{rc, vc} {
		if v, err := cl.Do("FLUSHALL"); err != nil || v.Type != '+' {
			// A server that stopped answering would fail every later case.
			t.Fatalf("%s:%d %q: FLUSHALL failed: %v %v", c.file, c.line, c.name, v, err)
		}
	}
	for _, st := range c.steps {
		r, v := rc, vc
		nreplies := 1
		var rawBytes []byte
		switch st.mode {
		case "requires":
			continue
		case "sleep":
			ms, _ := strconv.Atoi(st.args[0])
			time.Sleep(time.Duration(ms) * time.Millisecond)
			continue
		case "resp3":
			rc.Do("HELLO", "3")
			vc.Do("HELLO", "3")
			continue
		case "closed":
			for name, cl := range map[string]*testutil.Client{"redis": rc, "vigil": vc} {
				cl.Conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				if val, err := cl.R.Read(); err == nil {
					return fmt.Sprintf("line %d: %s kept the connection open (read %s)", st.line, name, val.String())
				}
			}
			continue
		case "raw", "rawn":
			a := st.args
			if st.mode == "rawn" {
				nreplies, _ = strconv.Atoi(a[0])
				a = a[1:]
			}
			if len(a) != 1 {
				t.Fatalf("%s:%d: !%s takes one quoted argument", c.file, st.line, st.mode)
			}
			rawBytes = []byte(a[0])
		case "noreply":
			nreplies = 0
		}
		if st.conn2 {
			if rc2 == nil {
				if rc2, err = testutil.Dial(redisAddr); err != nil {
					return "dial redis: " + err.Error()
				}
				if vc2, err = testutil.Dial(vigilAddr); err != nil {
					return "dial vigil: " + err.Error()
				}
			}
			r, v = rc2, vc2
		}
		if rawBytes != nil {
			if _, err := r.Conn.Write(rawBytes); err != nil {
				return fmt.Sprintf("line %d: redis write: %v", st.line, err)
			}
			if _, err := v.Conn.Write(rawBytes); err != nil {
				return fmt.Sprintf("line %d: vigil write: %v", st.line, err)
			}
		} else if !st.read {
			if err := r.Send(st.args...); err != nil {
				return fmt.Sprintf("line %d: redis write: %v", st.line, err)
			}
			if err := v.Send(st.args...); err != nil {
				return fmt.Sprintf("line %d: vigil write: %v", st.line, err)
			}
		}
		for i := 0; i < nreplies; i++ {
			rv, err := r.Read()
			if err != nil {
				return fmt.Sprintf("line %d %s: redis I/O error: %v", st.line, st.raw, err)
			}
			vv, err := v.Read()
			if err != nil {
				return fmt.Sprintf("line %d %s: vigil I/O error: %v (redis replied %s)", st.line, st.raw, err, rv.String())
			}
			var a, b string
			switch st.mode {
			case "ignore":
				continue
			case "type":
				a, b = string(rv.Type), string(vv.Type)
			case "error":
				if rv.Type != '-' {
					return fmt.Sprintf("line %d %s: expected redis to error, got %s", st.line, st.raw, rv.String())
				}
				a, b = "-", string(vv.Type)
			case "unordered":
				a, b = canon(rv, true), canon(vv, true)
			default:
				a, b = rv.String(), vv.String()
				if a == b && exact(rv) != exact(vv) {
					// Same rendering, different wire types ($-1 vs *-1, + vs $).
					a, b = exact(rv), exact(vv)
				}
			}
			if a != b {
				return fmt.Sprintf("line %d: %s\n  redis: %s\n  vigil: %s", st.line, st.raw, a, b)
			}
		}
	}
	return ""
}

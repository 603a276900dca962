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
	line int
	mode string // "", "unordered", "ignore", "type", "error", "sleep", "resp3"
	args []string
	raw  string
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
		if strings.HasPrefix(trim, "!") {
			sp := strings.IndexByte(trim, ' ')
			if sp < 0 {
				st.mode = trim[1:]
				trim = ""
			} else {
				st.mode = trim[1:sp]
				trim = strings.TrimSpace(trim[sp+1:])
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
		case "", "unordered", "ignore", "type", "error", "sleep", "resp3":
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
	total, failed := 0, 0
	for _, f := range files {
		cases := parseFile(t, f)
		for _, c := range cases {
			total++
			if msg := runCase(t, c, redis.Addr, vigil.Addr); msg != "" {
				failed++
				t.Errorf("%s:%d %q: %s", c.file, c.line, c.name, msg)
				if failed > 60 {
					t.Fatalf("too many failures")
				}
			}
		}
	}
	t.Logf("differential: %d cases over %d files, %d failed", total, len(files), failed)
	fmt.Printf("differential: %d cases, %d passed, %d failed\n", total, total-failed, failed)
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
	for _, cl := range []*testutil.Client{rc, vc} {
		if v, err := cl.Do("FLUSHALL"); err != nil || v.Type != '+' {
			return fmt.Sprintf("FLUSHALL failed: %v %v", v, err)
		}
	}
	for _, st := range c.steps {
		switch st.mode {
		case "sleep":
			ms, _ := strconv.Atoi(st.args[0])
			time.Sleep(time.Duration(ms) * time.Millisecond)
			continue
		case "resp3":
			rc.Do("HELLO", "3")
			vc.Do("HELLO", "3")
			continue
		}
		rv, err := rc.Do(st.args...)
		if err != nil {
			return fmt.Sprintf("line %d %s: redis I/O error: %v", st.line, st.raw, err)
		}
		vv, err := vc.Do(st.args...)
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
		}
		if a != b {
			return fmt.Sprintf("line %d: %s\n  redis: %s\n  vigil: %s", st.line, st.raw, a, b)
		}
	}
	return ""
}

package persist

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/logging"
	"github.com/vigil-kv/vigil/internal/server"
)

// newFuzzAOF builds an in-process server whose AOF directory holds one
// incremental file with the given content.
func newFuzzAOF(t testing.TB, content []byte, truncated bool) (*AOF, *server.Server) {
	dir := t.TempDir()
	cfg := config.NewServer()
	args := []string{"--dir", dir, "--appendonly", "yes", "--save", ""}
	if !truncated {
		args = append(args, "--aof-load-truncated", "no")
	}
	if err := cfg.ApplyArgs(args); err != nil {
		t.Fatal(err)
	}
	s := server.New(cfg, logging.New(io.Discard, logging.LevelWarning))
	st := Install(s)
	a := st.newAOF()
	st.AOF = a
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := "file appendonly.aof.1.incr.aof seq 1 type i\n"
	os.WriteFile(filepath.Join(a.dir, "appendonly.aof.manifest"), []byte(manifest), 0o644)
	os.WriteFile(filepath.Join(a.dir, "appendonly.aof.1.incr.aof"), content, 0o644)
	return a, s
}

// Loading an arbitrary AOF never panics: it loads, cuts a torn tail
// (aof-load-truncated yes) or returns an error naming the problem.
func FuzzAOFLoad(f *testing.F) {
	f.Add([]byte("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"))
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1"))
	f.Add([]byte("*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n"))
	f.Add([]byte("*2\r\n$3\r\nFOO\r\n$1\r\nx\r\n"))
	f.Add([]byte("REDIS0010garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		a, _ := newFuzzAOF(t, data, len(data)%2 == 0)
		_ = a.LoadInto(nil)
	})
}

// A torn last command is dropped with aof-load-truncated yes and refused
// with no, and complete commands before it are kept.
func TestAOFTornTail(t *testing.T) {
	good := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
	torn := good + "*3\r\n$3\r\nSET\r\n$1\r\nj"
	a, s := newFuzzAOF(t, []byte(torn), true)
	if err := a.LoadInto(nil); err != nil {
		t.Fatalf("truncated yes: %v", err)
	}
	s.Lock()
	if s.Keyspace().DBs[0].Peek("k") == nil || s.Keyspace().DBs[0].Peek("j") != nil {
		s.Unlock()
		t.Fatal("wrong keys after loading a torn AOF")
	}
	s.Unlock()
	a2, _ := newFuzzAOF(t, []byte(torn), false)
	if err := a2.LoadInto(nil); err == nil {
		t.Fatal("aof-load-truncated no accepted a torn AOF")
	}
}

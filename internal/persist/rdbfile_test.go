package persist

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/logging"
	"github.com/vigil-kv/vigil/internal/rdb"
	"github.com/vigil-kv/vigil/internal/server"
)

const testNow = 4_000_000_000_000 // in the future: Load drops keys expired by the wall clock

// testKeyspace fills two databases with every type and encoding the
// encoder chooses between, TTLs, one key already expired, and enough
// string keys for several load batches.
func testKeyspace() *keyspace.Keyspace {
	ks := keyspace.New(16)
	ks.Now = func() int64 { return testNow }
	rng := rand.New(rand.NewPCG(1, 2))
	str := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefgh"[rng.IntN(8)]
		}
		return b
	}
	for _, id := range []int{0, 3} {
		db := ks.DBs[id]
		for i := 0; i < 700; i++ {
			var v []byte
			switch i % 5 {
			case 0:
				v = []byte(fmt.Sprint(i * 1000)) // integer encoding
			case 1:
				v = bytes.Repeat([]byte("ab"), 40) // LZF
			case 2:
				v = nil
			default:
				v = str(i % 50)
			}
			e := keyspace.NewStringEntry(fmt.Sprintf("s:%d:%d", id, i), v)
			db.Add(e)
			if i%9 == 0 {
				db.SetExpire(e, testNow+int64(i)*1000)
			}
		}
		gone := keyspace.NewStringEntry("expired", []byte("x"))
		db.Add(gone)
		db.SetExpire(gone, testNow-1)
		db.Add(keyspace.NewStringEntry("", []byte("empty key")))

		for _, n := range []int{1, 5, 100, 300, 600} {
			l := keyspace.NewList()
			for i := 0; i < n; i++ {
				if i%3 == 0 {
					l.PushBack([]byte(fmt.Sprint(i - 100)))
				} else {
					l.PushBack(str(1 + i%70))
				}
			}
			db.Add(keyspace.NewEntry(fmt.Sprint("list", n), keyspace.TypeList, l))

			is, hs := keyspace.NewSet(), keyspace.NewSet()
			for i := 0; i < n; i++ {
				is.Add([]byte(fmt.Sprint(i*7 - 50)))
				hs.Add(append(str(1+i%20), fmt.Sprint(i)...))
			}
			db.Add(keyspace.NewEntry(fmt.Sprint("intset", n), keyspace.TypeSet, is))
			db.Add(keyspace.NewEntry(fmt.Sprint("set", n), keyspace.TypeSet, hs))

			z := keyspace.NewZSet()
			for i := 0; i < n; i++ {
				z.Add(append(str(1+i%10), fmt.Sprint(i)...), float64(rng.IntN(50))/4)
			}
			db.Add(keyspace.NewEntry(fmt.Sprint("zset", n), keyspace.TypeZSet, z))

			h, sh := keyspace.NewHash(), keyspace.NewHash()
			for i := 0; i < n; i++ {
				h.Set(append([]byte("f"), fmt.Sprint(i)...), str(i%80))
				sh.Set(append([]byte("f"), fmt.Sprint(i)...), str(i%30))
			}
			db.Add(keyspace.NewEntry(fmt.Sprint("hash", n), keyspace.TypeHash, h))
			db.Add(keyspace.NewEntry(fmt.Sprint("shorthash", n), keyspace.TypeHash, sh))
			bz := keyspace.NewZSet()
			for i := 0; i < n; i++ {
				bz.Add(append(str(70), fmt.Sprint(i)...), float64(i%7))
			}
			db.Add(keyspace.NewEntry(fmt.Sprint("longzset", n), keyspace.TypeZSet, bz))
		}
	}
	return ks
}

// dumpKeyspace renders every live key, sorted, with its TTL.
func dumpKeyspace(ks *keyspace.Keyspace) []string {
	var out []string
	for id, db := range ks.DBs {
		db.Dict().ForEach(func(e *keyspace.Entry) bool {
			if x := e.Expire(); x != 0 && x <= testNow {
				return true
			}
			var b strings.Builder
			enc := "-"
			if e.Coll != nil {
				enc = e.Coll.Encoding()
			}
			fmt.Fprintf(&b, "%d %q ttl=%d %s/%s:", id, e.Key(), e.Expire(), e.Type.Name(), enc)
			var items []string
			switch e.Type {
			case keyspace.TypeString:
				items = append(items, string(e.Str))
			case keyspace.TypeList:
				e.Coll.(*keyspace.List).Each(func(v []byte) bool { items = append(items, string(v)); return true })
			case keyspace.TypeSet:
				items = e.Coll.(*keyspace.Set).Members()
				sort.Strings(items)
			case keyspace.TypeZSet:
				e.Coll.(*keyspace.ZSet).Each(func(m []byte, s float64) bool {
					items = append(items, fmt.Sprintf("%s=%g", m, s))
					return true
				})
			case keyspace.TypeHash:
				e.Coll.(*keyspace.Hash).Each(func(f, v []byte) bool {
					items = append(items, string(f)+"="+string(v))
					return true
				})
				sort.Strings(items)
			}
			fmt.Fprintf(&b, "%q", items)
			out = append(out, b.String())
			return true
		})
	}
	sort.Strings(out)
	return out
}

func loadBytes(t *testing.T, data []byte) (*keyspace.Keyspace, *LoadStats) {
	t.Helper()
	ks := keyspace.New(16)
	ks.Now = func() int64 { return testNow }
	st, err := Load(bytes.NewReader(data), ks, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ks, st
}

// TestWriteLoadRoundTrip: the snapshot writer and the lock-held writer
// produce files that load back to the same dataset, and loading goes
// through the batched insert and the one-allocation strings.
func TestWriteLoadRoundTrip(t *testing.T) {
	ks := testKeyspace()
	want := dumpKeyspace(ks)
	for _, compress := range []bool{false, true} {
		opt := WriteOptions{Compress: compress, Checksum: true}
		var a, b bytes.Buffer
		snap := ks.BeginSnapshot()
		if _, err := WriteSnapshot(&a, snap, opt); err != nil {
			t.Fatal(err)
		}
		snap.Release()
		if _, err := WriteKeyspace(&b, ks, opt); err != nil {
			t.Fatal(err)
		}
		if a.Len() != b.Len() {
			t.Errorf("compress=%v: snapshot file %d bytes, keyspace file %d", compress, a.Len(), b.Len())
		}
		for name, data := range map[string][]byte{"snapshot": a.Bytes(), "keyspace": b.Bytes()} {
			got, st := loadBytes(t, data)
			if !st.Info.ChecksumVerified {
				t.Errorf("%s: checksum not verified", name)
			}
			if g := dumpKeyspace(got); !slices.Equal(g, want) {
				for i := range min(len(g), len(want)) {
					if g[i] != want[i] {
						t.Fatalf("%s compress=%v: first difference:\n got %s\nwant %s", name, compress, g[i], want[i])
					}
				}
				t.Fatalf("%s compress=%v: %d keys, want %d", name, compress, len(g), len(want))
			}
			// A loaded string value can be changed in place and appended to
			// without touching its key (they share one allocation).
			e := got.DBs[0].Peek("s:0:3")
			e.Str[0] = 'Z'
			e.Str = append(e.Str, "tail"...)
			if e.Key() != "s:0:3" || got.DBs[0].Peek("s:0:3") != e {
				t.Fatalf("key changed: %q", e.Key())
			}
		}
	}
}

// TestLoadDuplicatesAndNoResize: a file without RESIZEDB and with a key
// written twice keeps the last value (and its TTL), across batches.
func TestLoadDuplicatesAndNoResize(t *testing.T) {
	var buf bytes.Buffer
	enc := rdb.NewEncoder(&buf, rdb.Options{Checksum: true})
	enc.Header()
	for i := 0; i < 500; i++ {
		enc.StringEntry(0, []byte(fmt.Sprint("k", i)), []byte("first"), testNow+5000)
	}
	enc.StringEntry(0, []byte("k7"), []byte("second"), 0)
	enc.Entry(&rdb.Entry{DB: 1, Key: []byte("k7"), Value: rdb.Value{Type: rdb.TypeList, List: [][]byte{[]byte("x")}}, LRUIdle: -1, LFUFreq: -1})
	enc.StringEntry(0, []byte("k300"), []byte("third"), testNow+9000)
	if err := enc.Finish(); err != nil {
		t.Fatal(err)
	}
	ks, st := loadBytes(t, buf.Bytes())
	if st.Loaded != 503 {
		t.Errorf("Loaded = %d", st.Loaded)
	}
	db := ks.DBs[0]
	if db.Len() != 500 || ks.DBs[1].Len() != 1 {
		t.Fatalf("sizes %d %d", db.Len(), ks.DBs[1].Len())
	}
	if e := db.Peek("k7"); string(e.Str) != "second" || e.Expire() != 0 {
		t.Errorf("k7 = %q ttl %d", e.Str, e.Expire())
	}
	if e := db.Peek("k300"); string(e.Str) != "third" || e.Expire() != testNow+9000 {
		t.Errorf("k300 = %q ttl %d", e.Str, e.Expire())
	}
	if db.ExpiresLen() != 499 {
		t.Errorf("ExpiresLen = %d", db.ExpiresLen())
	}
}

// TestInfoLoadingProgress: while an RDB stream is loading, INFO
// persistence reports loading (server flagged as loading) or async_loading
// (a replica's load with the old dataset served), and the loading_* fields
// follow the bytes read and the file's used-mem; once it is done they are
// gone. The stream comes through a pipe, so the test holds the load
// halfway.
func TestInfoLoadingProgress(t *testing.T) {
	var buf bytes.Buffer
	if _, err := WriteKeyspace(&buf, testKeyspace(), WriteOptions{Checksum: true, Aux: [][2]string{{"used-mem", "123456"}}}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	cfg := config.NewServer()
	s := server.New(cfg, logging.New(io.Discard, logging.LevelWarning))
	Install(s)
	info := func() map[string]string {
		var b strings.Builder
		infoPersistence(s, &b)
		m := map[string]string{}
		for _, line := range strings.Split(b.String(), "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				m[k] = v
			}
		}
		return m
	}
	replica := false
	s.IsReplica = func() bool { return replica }
	for _, tc := range []struct {
		name           string
		flag, replica  bool
		loading, async string
	}{
		{"loading", true, true, "1", "0"},
		{"async", false, true, "0", "1"},
	} {
		replica = tc.replica
		s.SetLoading(tc.flag)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := Load(pr, keyspace.New(16), true, nil)
			done <- err
		}()
		half := len(data) / 2
		if _, err := pw.Write(data[:half]); err != nil {
			t.Fatal(err)
		}
		// The decoder has read what was written once its next read blocks;
		// poll until the counters show it.
		var m map[string]string
		deadline := time.Now().Add(5 * time.Second)
		for {
			m = info()
			if m["loading_loaded_bytes"] == fmt.Sprint(half) || m["async_loading"] == "1" || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if m["loading"] != tc.loading || m["async_loading"] != tc.async {
			t.Fatalf("%s: loading=%q async_loading=%q, want %s/%s", tc.name, m["loading"], m["async_loading"], tc.loading, tc.async)
		}
		if tc.flag {
			if m["loading_loaded_bytes"] != fmt.Sprint(half) || m["loading_rdb_used_mem"] != "123456" ||
				m["loading_total_bytes"] != "0" || m["loading_start_time"] == "" || m["loading_eta_seconds"] == "" {
				t.Fatalf("%s: progress fields %v", tc.name, m)
			}
		} else if _, ok := m["loading_loaded_bytes"]; ok {
			t.Fatalf("%s: loading_* fields without loading:1", tc.name)
		}
		if _, err := pw.Write(data[half:]); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		s.SetLoading(false)
		m = info()
		if m["loading"] != "0" || m["async_loading"] != "0" {
			t.Fatalf("%s, after the load: loading=%q async_loading=%q", tc.name, m["loading"], m["async_loading"])
		}
		if _, ok := m["loading_loaded_bytes"]; ok {
			t.Fatalf("%s: loading_* fields after the load", tc.name)
		}
	}

	// A file load on behalf of the server (start-up, DEBUG RELOAD) knows
	// the total: check the percentage at the end of the counting.
	path := t.TempDir() + "/dump.rdb"
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.SetLoading(true)
	var seen map[string]string
	st, err := loadFileFor(s, path, keyspace.New(16), false, func(k, v string) {
		if k == "used-mem" {
			seen = info()
		}
	})
	s.SetLoading(false)
	if err != nil || st == nil {
		t.Fatal(err)
	}
	if seen["loading"] != "1" || seen["loading_total_bytes"] != fmt.Sprint(len(data)) || seen["loading_rdb_used_mem"] != "123456" {
		t.Fatalf("file load: %v", seen)
	}
}

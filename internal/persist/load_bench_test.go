package persist

import (
	"os"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/keyspace"
)

// The benchmarks read $VIGIL_BENCH_RDB (skipped when unset), e.g. a dump of
// DEBUG POPULATE 1000000.

// benchRDB returns $VIGIL_BENCH_RDB, skipping b when it is unset.
func benchRDB(b *testing.B) string {
	b.Helper()
	path := os.Getenv("VIGIL_BENCH_RDB")
	if path == "" {
		b.Skip("set VIGIL_BENCH_RDB to an RDB file")
	}
	return path
}

// benchLoad loads path into a new keyspace (16 databases, clock at 0).
func benchLoad(b *testing.B, path string) *keyspace.Keyspace {
	b.Helper()
	ks := keyspace.New(16)
	ks.Now = func() int64 { return 0 }
	if _, err := LoadFile(path, ks, false, nil); err != nil {
		b.Fatal(err)
	}
	return ks
}

// benchSave loads $VIGIL_BENCH_RDB once (untimed), then measures save
// writing the whole dataset to a file b.N times.
func benchSave(b *testing.B, save func(ks *keyspace.Keyspace, out string, opt WriteOptions) error) {
	ks := benchLoad(b, benchRDB(b))
	out := b.TempDir() + "/dump.rdb"
	opt := WriteOptions{Compress: true, Checksum: true}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := save(ks, out, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadFile measures loading $VIGIL_BENCH_RDB, to profile start-up
// load speed.
func BenchmarkLoadFile(b *testing.B) {
	path := benchRDB(b)
	for i := 0; i < b.N; i++ {
		benchLoad(b, path)
	}
}

// BenchmarkSaveFile measures encoding the whole dataset to a file (as a
// foreground SAVE does, fsync included) from a snapshot, and reports the
// snapshot capture time separately.
func BenchmarkSaveFile(b *testing.B) {
	var capture time.Duration
	benchSave(b, func(ks *keyspace.Keyspace, out string, opt WriteOptions) error {
		t0 := time.Now()
		snap := ks.BeginSnapshot()
		capture += time.Since(t0)
		defer snap.Release()
		_, err := SaveFile(out, snap, opt)
		return err
	})
	b.ReportMetric(float64(capture.Milliseconds())/float64(b.N), "capture-ms/op")
}

// BenchmarkSaveKeyspaceFile is BenchmarkSaveFile through the lock-held path
// (no snapshot capture).
func BenchmarkSaveKeyspaceFile(b *testing.B) {
	benchSave(b, func(ks *keyspace.Keyspace, out string, opt WriteOptions) error {
		_, err := SaveKeyspaceFile(out, ks, opt)
		return err
	})
}

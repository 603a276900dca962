package persist

import (
	"os"
	"testing"

	"github.com/vigil-kv/vigil/internal/keyspace"
)

// BenchmarkLoadFile loads $VIGIL_BENCH_RDB (skipped when unset), e.g. a
// dump of DEBUG POPULATE 1000000, to profile start-up load speed.
func BenchmarkLoadFile(b *testing.B) {
	path := os.Getenv("VIGIL_BENCH_RDB")
	if path == "" {
		b.Skip("set VIGIL_BENCH_RDB to an RDB file")
	}
	for i := 0; i < b.N; i++ {
		ks := keyspace.New(16)
		ks.Now = func() int64 { return 0 }
		if _, err := LoadFile(path, ks, false, nil); err != nil {
			b.Fatal(err)
		}
	}
}

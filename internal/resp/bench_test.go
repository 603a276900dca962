package resp

import (
	"testing"
)

func BenchmarkReadCommands(b *testing.B) {
	batch := getSetBatch()
	r := NewReader(&replayReader{batch}, 0, 0)
	var cmds []Command
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		cmds, err = r.ReadCommands(cmds)
		if err != nil || len(cmds) != 101 {
			b.Fatalf("%d commands, %v", len(cmds), err)
		}
	}
}

func BenchmarkReadCommandsInline(b *testing.B) {
	var batch []byte
	for range 100 {
		batch = append(batch, "SET key:000001 \"value value\"\r\n"...)
	}
	r := NewReader(&replayReader{batch}, 0, 0)
	var cmds []Command
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		cmds, _ = r.ReadCommands(cmds)
	}
}

func BenchmarkAppendBulk(b *testing.B) {
	val := []byte("value-value-value-value-value-value-value-value-value-value-1234")
	buf := make([]byte, 0, 1<<16)
	b.SetBytes(int64(len(val)))
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for range 100 {
			buf = AppendBulk(buf, val)
		}
	}
}

func BenchmarkWriterDouble(b *testing.B) {
	w := &Writer{Buf: make([]byte, 0, 1<<12), Proto: 2}
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		for range 50 {
			w.Double(1.1)
		}
	}
}

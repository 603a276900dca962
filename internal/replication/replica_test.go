package replication

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// markReader must end the payload at the EOF mark wherever the reads split
// it, and leave the bytes after it (the start of the stream) buffered.
func TestMarkReader(t *testing.T) {
	mark := []byte("0123456789012345678901234567890123456789")
	payload := bytes.Repeat([]byte("rdb-bytes-"), 5000)
	tail := []byte("*1\r\n$4\r\nPING\r\n")
	all := append(append(append([]byte{}, payload...), mark...), tail...)
	for _, chunk := range []int{1, 7, 39, 40, 41, 4096, len(all)} {
		a, b := net.Pipe()
		go func() {
			for i := 0; i < len(all); i += chunk {
				a.Write(all[i:min(len(all), i+chunk)])
			}
		}()
		lc := &lineConn{conn: b, br: bufio.NewReaderSize(b, 1<<16)}
		var n atomic.Int64
		// A small reader on top, like the RDB decoder's.
		mr := &markReader{br: lc.br, conn: b, timeout: 5 * time.Second, mark: mark, read: &n}
		got, err := io.ReadAll(bufio.NewReaderSize(mr, 100))
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("chunk %d: %d bytes, err %v", chunk, len(got), err)
		}
		if n.Load() != int64(len(payload)+len(mark)) {
			t.Fatalf("chunk %d: counted %d", chunk, n.Load())
		}
		rest := make([]byte, len(tail))
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(lc.br, rest); err != nil || !bytes.Equal(rest, tail) {
			t.Fatalf("chunk %d: after the mark %q %v", chunk, rest, err)
		}
		a.Close()
		b.Close()
	}
}

// A payload cut before its mark is an error, not a clean end.
func TestMarkReaderTruncated(t *testing.T) {
	mark := []byte("0123456789012345678901234567890123456789")
	a, b := net.Pipe()
	go func() {
		a.Write([]byte("partial payload"))
		a.Close()
	}()
	var n atomic.Int64
	mr := &markReader{br: bufio.NewReader(b), conn: b, timeout: 5 * time.Second, mark: mark, read: &n}
	if _, err := io.ReadAll(mr); err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
}

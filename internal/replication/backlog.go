package replication

// Backlog is the circular buffer of the most recent replication stream
// bytes, from which a reconnecting replica resumes (+CONTINUE) instead of a
// full resync. Offsets are absolute stream offsets: the byte at offset o
// (1-based, like master_repl_offset counting) lives at buf[(o-1) % size].
type Backlog struct {
	buf     []byte
	size    int64
	histlen int64 // bytes currently held
	endOff  int64 // offset of the last byte written (== master_repl_offset)
}

// NewBacklog allocates a backlog of size bytes.
func NewBacklog(size int64) *Backlog {
	if size < 16*1024 {
		size = 16 * 1024
	}
	return &Backlog{buf: make([]byte, size), size: size}
}

// Write appends stream bytes.
func (b *Backlog) Write(p []byte) {
	b.endOff += int64(len(p))
	if int64(len(p)) >= b.size {
		p = p[int64(len(p))-b.size:]
	}
	start := (b.endOff - int64(len(p))) % b.size
	n := copy(b.buf[start:], p)
	if n < len(p) {
		copy(b.buf, p[n:])
	}
	b.histlen += int64(len(p))
	if b.histlen > b.size {
		b.histlen = b.size
	}
}

// Skip advances the end offset without data (used when the dropped prefix
// of an oversized write is accounted for).
func (b *Backlog) Skip(n int64) { b.endOff += n }

// SetEnd resets the backlog to be empty and end at offset off.
func (b *Backlog) SetEnd(off int64) {
	b.endOff = off
	b.histlen = 0
}

// FirstOffset is the offset of the oldest byte held (repl_backlog_first_byte_offset).
func (b *Backlog) FirstOffset() int64 { return b.endOff - b.histlen + 1 }

// HistLen is the number of bytes held.
func (b *Backlog) HistLen() int64 { return b.histlen }

// Size is the capacity.
func (b *Backlog) Size() int64 { return b.size }

// End is the offset of the last byte.
func (b *Backlog) End() int64 { return b.endOff }

// From returns a copy of the bytes after offset off (i.e. from off+1), and
// whether they are all still held.
func (b *Backlog) From(off int64) ([]byte, bool) {
	if off > b.endOff || off < b.endOff-b.histlen {
		return nil, false
	}
	n := b.endOff - off
	out := make([]byte, n)
	start := off % b.size
	m := copy(out, b.buf[start:])
	if int64(m) < n {
		copy(out[m:], b.buf)
	}
	return out, true
}

// Resize changes the capacity keeping the newest bytes.
func (b *Backlog) Resize(size int64) {
	if size < 16*1024 {
		size = 16 * 1024
	}
	if size == b.size {
		return
	}
	keep := b.histlen
	if keep > size {
		keep = size
	}
	data, _ := b.From(b.endOff - keep)
	nb := &Backlog{buf: make([]byte, size), size: size, endOff: b.endOff - keep}
	nb.Write(data)
	*b = *nb
}

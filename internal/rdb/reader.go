package rdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
)

const chunkSize = 64 << 10

// readBufSize is the read-ahead of Load when the caller's reader is not a
// *bufio.Reader.
const readBufSize = 256 << 10

// reader is the low-level RDB input. It decodes straight out of a window of
// buffered input (bufio.Reader.Peek), so strings that fit in the buffer are
// handed out as views without copying, and the CRC64 is computed in bulk
// over each consumed window rather than per item. It never allocates more
// than chunkSize ahead of the data actually read (or the known remaining
// size), and it consumes from a caller's *bufio.Reader exactly the bytes it
// decoded.
type reader struct {
	br    *bufio.Reader // nil: win is the whole input
	win   []byte        // buffered input; win[off:] is unread
	off   int
	base  int64  // input offset of win[0]
	crc   uint64 // CRC64 of the input before win[0]
	limit int64  // total input size if known, else -1
	num   [24]byte
	ibuf  [24]byte // integer-encoded strings returned as views
	lzf   []byte   // decompressed strings returned as views
	key   []byte   // the current key, copied out of the window
	ar    arena    // collection elements of the current value
	dups  dupTable
	// rawHashLP: pass type-16 hashes as validated blobs (ListpackHandler).
	rawHashLP bool
	sElems    [][]byte
	num2      []byte // integer fields of a raw hash listpack, in decimal
	// scratch slices reused for the values of successive keys
	sList, sSet [][]byte
	sZSet       []ZMember
	sHash       []HashField
}

func newReader(r io.Reader, limit int64) *reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, readBufSize)
	}
	return &reader{br: br, limit: limit}
}

// newBytesReader decodes b in place (no copy, no read-ahead buffer).
func newBytesReader(b []byte) *reader {
	return &reader{win: b, limit: int64(len(b))}
}

// pos is the offset of the next unread byte.
func (r *reader) pos() int64 { return r.base + int64(r.off) }

// sum is the CRC64 of everything consumed so far.
func (r *reader) sum() uint64 { return CRC64Update(r.crc, r.win[:r.off]) }

// maxView is the longest string that can be returned as a view.
func (r *reader) maxView() int {
	if r.br == nil {
		return math.MaxInt
	}
	return r.br.Size()
}

// fill makes at least n (<= maxView) unread bytes available in the window,
// first discarding (and checksumming) what was consumed. On a short input
// the window holds what there is and the error is returned.
func (r *reader) fill(n int) error {
	if r.br == nil {
		return io.ErrUnexpectedEOF
	}
	r.release()
	p, err := r.br.Peek(n)
	if len(p) < n {
		r.win = p
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	r.win, _ = r.br.Peek(r.br.Buffered())
	return nil
}

// release hands the consumed bytes back to the bufio.Reader.
func (r *reader) release() {
	if r.off == 0 || r.br == nil {
		return
	}
	r.crc = CRC64Update(r.crc, r.win[:r.off])
	r.br.Discard(r.off)
	r.base += int64(r.off)
	r.win = r.win[r.off:]
	r.off = 0
}

func (r *reader) corrupt(format string, args ...any) error {
	return &CorruptError{Offset: r.pos(), Reason: fmt.Sprintf(format, args...)}
}

func (r *reader) eof(what string, err error) error { return r.eofX(what, "", err) }

func (r *reader) eofX(what, sfx string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &CorruptError{Offset: r.pos(), Reason: "unexpected EOF reading " + what + sfx, Err: io.ErrUnexpectedEOF}
	}
	return &CorruptError{Offset: r.pos(), Reason: "read error reading " + what + sfx + ": " + err.Error(), Err: err}
}

func (r *reader) unsupported(what string) error {
	return &CorruptError{Offset: r.pos(), Reason: "unsupported " + what, Err: ErrUnsupported}
}

func (r *reader) readByte(what string) (byte, error) {
	if r.off < len(r.win) {
		c := r.win[r.off]
		r.off++
		return c, nil
	}
	if err := r.fill(1); err != nil {
		return 0, r.eof(what, err)
	}
	c := r.win[r.off]
	r.off++
	return c, nil
}

// next returns the next n (<= maxView) bytes as a view valid until the
// next read.
func (r *reader) next(n int, what string) ([]byte, error) {
	p, err := r.nextRaw(n)
	if err != nil {
		return nil, r.eof(what, err)
	}
	return p, nil
}

// nextRaw is next returning the input's error as is.
func (r *reader) nextRaw(n int) ([]byte, error) {
	if len(r.win)-r.off < n {
		if err := r.fill(n); err != nil {
			r.off = len(r.win)
			return nil, err
		}
	}
	p := r.win[r.off : r.off+n : r.off+n]
	r.off += n
	return p, nil
}

// readInto fills p completely.
func (r *reader) readInto(p []byte, what string) error {
	for len(p) > 0 {
		if r.off >= len(r.win) {
			if err := r.fill(1); err != nil {
				return r.eof(what, err)
			}
		}
		n := copy(p, r.win[r.off:])
		r.off += n
		p = p[n:]
	}
	return nil
}

func (r *reader) checkRemaining(n uint64, what string) error {
	if r.limit >= 0 && n > uint64(r.limit-r.pos()) {
		return r.corrupt("%s length %d exceeds remaining input", what, n)
	}
	return nil
}

// readBytes returns n freshly allocated bytes.
func (r *reader) readBytes(n uint64, what string) ([]byte, error) {
	if err := r.checkRemaining(n, what); err != nil {
		return nil, err
	}
	if n <= chunkSize {
		p := make([]byte, n)
		return p, r.readInto(p, what)
	}
	var p []byte
	for uint64(len(p)) < n {
		k := min(n-uint64(len(p)), chunkSize)
		p = slices.Grow(p, int(k))
		start := len(p)
		p = p[:start+int(k)]
		if err := r.readInto(p[start:], what); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// strMode says how long a string returned by readStr stays valid.
type strMode uint8

const (
	strView  strMode = iota // until the next read (may alias the input buffer)
	strArena                // until the arena is reset (the end of the key)
	strFresh                // newly allocated, owned by the caller
)

// readRaw reads n bytes of a plain string.
func (r *reader) readRaw(n uint64, what string, m strMode) ([]byte, error) {
	switch m {
	case strView:
		if n <= uint64(r.maxView()) {
			if err := r.checkRemaining(n, what); err != nil {
				return nil, err
			}
			return r.next(int(n), what)
		}
	case strArena:
		if n <= arenaMax {
			if err := r.checkRemaining(n, what); err != nil {
				return nil, err
			}
			p := r.ar.alloc(int(n))
			return p, r.readInto(p, what)
		}
	}
	return r.readBytes(n, what)
}

// readLen reads a length. If the value is a special string encoding,
// enc is true and n holds the encoding type.
func (r *reader) readLen(what string) (n uint64, enc bool, err error) {
	return r.readLenX(what, "")
}

// readLenX is readLen for the item named what+sfx (concatenated only for
// an error message).
func (r *reader) readLenX(what, sfx string) (n uint64, enc bool, err error) {
	if len(r.win)-r.off >= 9 {
		b := r.win[r.off : r.off+9]
		c := b[0]
		switch c >> 6 {
		case 0:
			r.off++
			return uint64(c & 0x3f), false, nil
		case 1:
			r.off += 2
			return uint64(c&0x3f)<<8 | uint64(b[1]), false, nil
		case 3:
			r.off++
			return uint64(c & 0x3f), true, nil
		}
		switch c {
		case 0x80:
			r.off += 5
			return uint64(binary.BigEndian.Uint32(b[1:5])), false, nil
		case 0x81:
			r.off += 9
			return binary.BigEndian.Uint64(b[1:9]), false, nil
		}
		r.off++
		return 0, false, r.corrupt("bad length encoding 0x%02x reading %s%s", c, what, sfx)
	}
	b, err := r.nextRaw(1)
	if err != nil {
		return 0, false, r.eofX(what, sfx, err)
	}
	c := b[0]
	switch c >> 6 {
	case 0:
		return uint64(c & 0x3f), false, nil
	case 1:
		b, err := r.nextRaw(1)
		if err != nil {
			return 0, false, r.eofX(what, sfx, err)
		}
		return uint64(c&0x3f)<<8 | uint64(b[0]), false, nil
	case 3:
		return uint64(c & 0x3f), true, nil
	}
	switch c {
	case 0x80:
		b, err := r.nextRaw(4)
		if err != nil {
			return 0, false, r.eofX(what, sfx, err)
		}
		return uint64(binary.BigEndian.Uint32(b)), false, nil
	case 0x81:
		b, err := r.nextRaw(8)
		if err != nil {
			return 0, false, r.eofX(what, sfx, err)
		}
		return binary.BigEndian.Uint64(b), false, nil
	}
	return 0, false, r.corrupt("bad length encoding 0x%02x reading %s%s", c, what, sfx)
}

func (r *reader) readPlainLen(what string) (uint64, error) {
	return r.readPlainLenX(what, "")
}

func (r *reader) readPlainLenX(what, sfx string) (uint64, error) {
	n, enc, err := r.readLenX(what, sfx)
	if err == nil && enc {
		err = r.corrupt("unexpected string encoding reading %s%s", what, sfx)
	}
	return n, err
}

// readString reads a (possibly integer- or LZF-encoded) string into a
// new allocation.
func (r *reader) readString(what string) ([]byte, error) { return r.readStr(what, strFresh) }

// readStr reads a (possibly integer- or LZF-encoded) string, valid as long
// as mode m says.
func (r *reader) readStr(what string, m strMode) ([]byte, error) {
	n, enc, err := r.readLenX(what, " length")
	if err != nil {
		return nil, err
	}
	if !enc {
		return r.readRaw(n, what, m)
	}
	switch n {
	case 0, 1, 2:
		w := 1 << n
		b, err := r.next(w, what)
		if err != nil {
			return nil, err
		}
		var v int64
		switch w {
		case 1:
			v = int64(int8(b[0]))
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(b)))
		default:
			v = int64(int32(binary.LittleEndian.Uint32(b)))
		}
		switch m {
		case strView:
			return strconv.AppendInt(r.ibuf[:0], v, 10), nil
		case strArena:
			s := strconv.AppendInt(r.ibuf[:0], v, 10)
			p := r.ar.alloc(len(s))
			copy(p, s)
			return p, nil
		}
		return strconv.AppendInt(nil, v, 10), nil
	case 3:
		clen, err := r.readPlainLenX(what, " compressed length")
		if err != nil {
			return nil, err
		}
		ulen, err := r.readPlainLenX(what, " uncompressed length")
		if err != nil {
			return nil, err
		}
		if ulen > clen*88+32 || ulen > math.MaxInt32*16 {
			return nil, r.corrupt("LZF %s: uncompressed length %d impossible for %d compressed bytes", what, ulen, clen)
		}
		c, err := r.readRaw(clen, what, strView)
		if err != nil {
			return nil, err
		}
		var dst []byte
		switch {
		case m == strView:
			if uint64(cap(r.lzf)) < ulen {
				r.lzf = make([]byte, 0, ulen)
			}
			dst = r.lzf[:0]
		case m == strArena && ulen <= arenaMax:
			dst = r.ar.alloc(int(ulen))[:0]
		default:
			dst = make([]byte, 0, ulen)
		}
		out, err := lzfDecompressInto(dst, c, int(ulen))
		if err != nil {
			return nil, r.corrupt("LZF %s: %v", what, err)
		}
		return out, nil
	}
	return nil, r.corrupt("unknown string encoding %d reading %s", n, what)
}

func (r *reader) readUint64LE(what string) (uint64, error) {
	b, err := r.next(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// readOldDouble reads the ASCII score format of RDB_TYPE_ZSET.
func (r *reader) readOldDouble() (float64, error) {
	c, err := r.readByte("score")
	if err != nil {
		return 0, err
	}
	switch c {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	var buf [256]byte
	if err := r.readInto(buf[:c], "score"); err != nil {
		return 0, err
	}
	f, ok := parseScore(buf[:c])
	if !ok {
		return 0, r.corrupt("bad score %q", buf[:c])
	}
	return f, nil
}

// capHint bounds preallocation by a declared element count.
func capHint(n uint64) int { return int(min(n, 1024)) }

// arena hands out the element bytes of one collection value from reused
// blocks, so decoding a collection allocates nothing per element. It is
// reset after each key (the Handler copies what it keeps).
type arena struct {
	blocks [][]byte
	i      int
}

const (
	arenaBlock = 64 << 10
	arenaMax   = 16 << 10 // larger strings get their own allocation
)

func (a *arena) alloc(n int) []byte {
	for a.i < len(a.blocks) {
		b := a.blocks[a.i]
		if l := len(b); cap(b)-l >= n {
			a.blocks[a.i] = b[:l+n]
			return b[l : l+n : l+n]
		}
		a.i++
	}
	b := make([]byte, n, arenaBlock)
	a.blocks = append(a.blocks, b)
	a.i = len(a.blocks) - 1
	return b[:n:n]
}

func (a *arena) reset() {
	if len(a.blocks) == 0 {
		return
	}
	for j := 0; j <= a.i && j < len(a.blocks); j++ {
		a.blocks[j] = a.blocks[j][:0]
	}
	a.i = 0
	// Keep at most 4 MiB for the next value.
	if len(a.blocks) > 64 {
		clear(a.blocks[64:])
		a.blocks = a.blocks[:64]
	}
}

// clone copies b into the arena.
func (a *arena) clone(b []byte) []byte {
	if len(b) > arenaMax {
		return slices.Clone(b)
	}
	p := a.alloc(len(b))
	copy(p, b)
	return p
}

// hasDup reports whether two of the n strings key(0..n-1) are equal. The
// strings must stay unchanged during the call.
func (r *reader) hasDup(n int, key func(i int) []byte) bool {
	if n <= 16 {
		for i := 1; i < n; i++ {
			ki := key(i)
			for j := 0; j < i; j++ {
				if bytes.Equal(ki, key(j)) {
					return true
				}
			}
		}
		return false
	}
	return r.dups.hasDup(n, key)
}

// dupTable is a reused open-addressing set of element indexes for hasDup:
// no map, no per-element allocation.
type dupTable struct {
	slots  []uint32 // index+1, 0 = empty
	hashes []uint32 // hash of element i (upper bits), checked before the bytes
}

var dupSeed = maphash.MakeSeed()

// dupHash hashes k for dupTable: short strings (most hash fields and set
// members) inline, with a seeded mixer, longer ones with maphash.
func dupHash(k []byte) uint64 {
	var x uint64
	switch n := len(k); {
	case n >= 8 && n <= 16:
		x = binary.LittleEndian.Uint64(k) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(k[n-8:]), 31)
	case n < 8:
		for i := n - 1; i >= 0; i-- {
			x = x<<8 | uint64(k[i])
		}
	default:
		return maphash.Bytes(dupSeed, k)
	}
	x ^= uint64(len(k))<<59 ^ dupMix
	x *= 0x9E3779B97F4A7C15
	x ^= x >> 32
	x *= 0xD6E8FEB86659FD93
	x ^= x >> 29
	return x
}

var dupMix = maphash.Comparable(dupSeed, 0)

// prepare sizes the table for n keys (at most half full) and clears it;
// it returns the tag slice for the n keys and the slot mask.
func (t *dupTable) prepare(n int) (hs []uint32, mask uint64) {
	size := 64
	for size < 2*n {
		size <<= 1
	}
	if cap(t.slots) < size {
		t.slots = make([]uint32, size)
	} else {
		t.slots = t.slots[:size]
		clear(t.slots)
	}
	if cap(t.hashes) < n {
		t.hashes = make([]uint32, n)
	}
	return t.hashes[:n], uint64(size - 1)
}

// release drops a huge table rather than keep it for the next value.
func (t *dupTable) release() {
	if len(t.slots) > 1<<16 {
		t.slots, t.hashes = nil, nil
	}
}

func (t *dupTable) hasDup(n int, key func(i int) []byte) bool {
	hs, mask := t.prepare(n)
	dup := false
	for i := 0; i < n && !dup; i++ {
		k := key(i)
		h := dupHash(k)
		tag := uint32(h >> 32)
		hs[i] = tag
		for pos := h & mask; ; pos = (pos + 1) & mask {
			j := t.slots[pos]
			if j == 0 {
				t.slots[pos] = uint32(i + 1)
				break
			}
			if hs[j-1] == tag && bytes.Equal(key(int(j-1)), k) {
				dup = true
				break
			}
		}
	}
	t.release()
	return dup
}

// hasDupIn is hasDup over a slice, without the indirect calls (the hash
// listpack path, where it runs for every hash of a file).
func (r *reader) hasDupIn(keys [][]byte) bool {
	n := len(keys)
	if n <= 16 {
		for i := 1; i < n; i++ {
			for j := 0; j < i; j++ {
				if bytes.Equal(keys[i], keys[j]) {
					return true
				}
			}
		}
		return false
	}
	t := &r.dups
	hs, mask := t.prepare(n)
	slots := t.slots
	dup := false
	for i, k := range keys {
		h := dupHash(k)
		tag := uint32(h >> 32)
		hs[i] = tag
		pos := h & mask
		for slots[pos] != 0 {
			j := slots[pos] - 1
			if hs[j] == tag && bytes.Equal(keys[j], k) {
				dup = true
				break
			}
			pos = (pos + 1) & mask
		}
		if dup {
			break
		}
		slots[pos] = uint32(i + 1)
	}
	t.release()
	return dup
}

func parseScore(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true // +-Inf or 0 on overflow/underflow, like strtod
		}
		return 0, false
	}
	return f, true
}

// readObject decodes a value of on-disk type t into v. Strings are views
// valid until the next read; collection elements live in the reader's
// arena until it is reset. v's slices may reuse the reader's scratch.
func (r *reader) readObject(t Type, v *Value) error {
	if v.List != nil || v.Set != nil || v.ZSet != nil || v.Hash != nil || v.Listpack != nil {
		*v = Value{}
	} else {
		v.Type, v.Str = 0, nil
	}
	switch t {
	case TypeString:
		v.Type = TypeString
		s, err := r.readStr("string value", strView)
		v.Str = s
		return err

	case TypeList:
		v.Type = TypeList
		n, err := r.readPlainLen("list length")
		if err != nil {
			return err
		}
		v.List = slices.Grow(r.sList[:0], capHint(n))
		for i := uint64(0); i < n; i++ {
			s, err := r.readStr("list element", strArena)
			if err != nil {
				return err
			}
			v.List = append(v.List, s)
		}
		r.sList = v.List
		return nil

	case TypeSet:
		v.Type = TypeSet
		n, err := r.readPlainLen("set length")
		if err != nil {
			return err
		}
		v.Set = slices.Grow(r.sSet[:0], capHint(n))
		for i := uint64(0); i < n; i++ {
			s, err := r.readStr("set member", strArena)
			if err != nil {
				return err
			}
			v.Set = append(v.Set, s)
		}
		r.sSet = v.Set
		if r.hasDup(len(v.Set), func(i int) []byte { return v.Set[i] }) {
			return r.corrupt("duplicate set member")
		}
		return nil

	case TypeZSet, TypeZSet2:
		v.Type = TypeZSet
		n, err := r.readPlainLen("zset length")
		if err != nil {
			return err
		}
		v.ZSet = slices.Grow(r.sZSet[:0], capHint(n))
		for i := uint64(0); i < n; i++ {
			m, err := r.readStr("zset member", strArena)
			if err != nil {
				return err
			}
			var f float64
			if t == TypeZSet {
				f, err = r.readOldDouble()
			} else {
				var u uint64
				u, err = r.readUint64LE("zset score")
				f = math.Float64frombits(u)
			}
			if err != nil {
				return err
			}
			if math.IsNaN(f) {
				return r.corrupt("zset NaN score")
			}
			v.ZSet = append(v.ZSet, ZMember{m, f})
		}
		r.sZSet = v.ZSet
		if r.hasDup(len(v.ZSet), func(i int) []byte { return v.ZSet[i].Member }) {
			return r.corrupt("duplicate zset member")
		}
		sortZSet(v.ZSet)
		return nil

	case TypeHash:
		v.Type = TypeHash
		n, err := r.readPlainLen("hash length")
		if err != nil {
			return err
		}
		v.Hash = slices.Grow(r.sHash[:0], capHint(n))
		for i := uint64(0); i < n; i++ {
			f, err := r.readStr("hash field", strArena)
			if err != nil {
				return err
			}
			val, err := r.readStr("hash value", strArena)
			if err != nil {
				return err
			}
			v.Hash = append(v.Hash, HashField{f, val})
		}
		r.sHash = v.Hash
		if r.hasDup(len(v.Hash), func(i int) []byte { return v.Hash[i].Field }) {
			return r.corrupt("duplicate hash field")
		}
		return nil

	case TypeListQuicklist, TypeListQuicklist2:
		v.Type = TypeList
		n, err := r.readPlainLen("quicklist node count")
		if err != nil {
			return err
		}
		v.List = r.sList[:0]
		add := func(e []byte, tmp bool) error {
			if tmp {
				e = r.ar.clone(e)
			}
			v.List = append(v.List, e)
			return nil
		}
		for i := uint64(0); i < n; i++ {
			container := uint64(2)
			if t == TypeListQuicklist2 {
				if container, err = r.readPlainLen("quicklist node container"); err != nil {
					return err
				}
			}
			blob, err := r.readStr("quicklist node", strArena)
			if err != nil {
				return err
			}
			switch {
			case container == 1: // plain node: one element
				v.List = append(v.List, blob)
			case container != 2:
				return r.corrupt("bad quicklist container %d", container)
			case t == TypeListQuicklist:
				err = ziplistEach(blob, add)
			default:
				err = listpackEach(blob, add)
			}
			if err != nil {
				return r.corrupt("bad quicklist node: %v", err)
			}
		}
		r.sList = v.List
		return nil

	case TypeListZiplist:
		v.Type = TypeList
		var err error
		v.List, err = r.packedElems(t, "ziplist", r.sList[:0])
		r.sList = v.List
		return err

	case TypeSetIntset:
		v.Type = TypeSet
		blob, err := r.readStr("intset", strView)
		if err != nil {
			return err
		}
		v.Set = r.sSet[:0]
		err = intsetEach(blob, func(x int64) {
			v.Set = append(v.Set, r.ar.clone(strconv.AppendInt(r.num[:0], x, 10)))
		})
		r.sSet = v.Set
		if err != nil {
			return r.corrupt("bad intset")
		}
		return nil

	case TypeSetListpack:
		v.Type = TypeSet
		var err error
		v.Set, err = r.packedElems(t, "listpack", r.sSet[:0])
		r.sSet = v.Set
		if err == nil && r.hasDup(len(v.Set), func(i int) []byte { return v.Set[i] }) {
			err = r.corrupt("bad listpack: duplicate set member")
		}
		return err

	case TypeZSetZiplist, TypeZSetListpack:
		v.Type = TypeZSet
		v.ZSet = r.sZSet[:0]
		var member []byte
		odd := false
		err := r.packed(t, "packed zset", func(e []byte, tmp bool) error {
			if !odd {
				if tmp {
					e = r.ar.clone(e)
				}
				member, odd = e, true
				return nil
			}
			odd = false
			f, ok := parseScore(e)
			if !ok || math.IsNaN(f) {
				return fmt.Errorf("bad zset score %q", e)
			}
			v.ZSet = append(v.ZSet, ZMember{member, f})
			return nil
		})
		r.sZSet = v.ZSet
		if err == nil && odd {
			err = r.corrupt("packed zset with odd element count")
		}
		if err == nil && r.hasDup(len(v.ZSet), func(i int) []byte { return v.ZSet[i].Member }) {
			err = r.corrupt("bad packed zset: duplicate zset member")
		}
		sortZSet(v.ZSet)
		return err

	case TypeHashListpack:
		if r.rawHashLP {
			return r.readHashListpack(v)
		}
		fallthrough
	case TypeHashZiplist:
		v.Type = TypeHash
		v.Hash = r.sHash[:0]
		var field []byte
		odd := false
		err := r.packed(t, "packed hash", func(e []byte, tmp bool) error {
			if tmp {
				e = r.ar.clone(e)
			}
			if !odd {
				field, odd = e, true
				return nil
			}
			odd = false
			v.Hash = append(v.Hash, HashField{field, e})
			return nil
		})
		r.sHash = v.Hash
		if err == nil && odd {
			err = r.corrupt("packed hash with odd element count")
		}
		if err == nil && r.hasDup(len(v.Hash), func(i int) []byte { return v.Hash[i].Field }) {
			err = r.corrupt("bad packed hash: duplicate hash field")
		}
		return err

	case TypeHashZipmap:
		v.Type = TypeHash
		blob, err := r.readStr("zipmap", strArena)
		if err != nil {
			return err
		}
		fields, err := ZipmapDecode(blob)
		if err != nil {
			return r.corrupt("bad zipmap")
		}
		if r.hasDup(len(fields), func(i int) []byte { return fields[i].Field }) {
			return r.corrupt("duplicate hash field")
		}
		v.Hash = fields
		return nil

	case TypeStreamListpacks, TypeStreamListpacks2, TypeStreamListpacks3:
		return r.unsupported(fmt.Sprintf("type %d (stream)", t))
	case TypeModule, TypeModule2:
		return r.unsupported(fmt.Sprintf("type %d (module)", t))
	}
	return r.corrupt("unknown value type %d", byte(t))
}

// packed reads a string holding a ziplist (for ziplist types) or listpack
// and feeds its elements to fn (see listpackEach for tmp). The blob lives
// in the arena, so elements that alias it stay valid for the key.
// readHashListpack reads a type-16 hash as a raw blob into v.Listpack,
// validating it as the decoded path does (listpack structure, an even
// element count, no duplicate field) without building the field list.
func (r *reader) readHashListpack(v *Value) error {
	v.Type = TypeHash
	// A fresh allocation (LZF decompresses straight into it): the handler
	// keeps it as the hash's storage, no second copy.
	blob, err := r.readStr("packed hash", strFresh)
	if err != nil {
		return err
	}
	r.num2 = r.num2[:0]
	fields, maxLen, err := listpackHashFields(blob, r.sElems[:0], &r.num2)
	r.sElems = fields
	if err != nil {
		if len(blob) > lpHeaderSize && int(binary.LittleEndian.Uint32(blob)) == len(blob) {
			if lerr := listpackEach(blob, func([]byte, bool) error { return nil }); lerr == nil {
				return r.corrupt("packed hash with odd element count")
			}
		}
		return r.corrupt("bad packed hash: %v", err)
	}
	if r.hasDupIn(fields) {
		return r.corrupt("bad packed hash: duplicate hash field")
	}
	clear(fields)
	v.Listpack, v.ListpackMaxLen = blob, maxLen
	return nil
}

// packedElems appends every element of a packed blob to dst (elements in
// temporary buffers are copied to the arena).
func (r *reader) packedElems(t Type, what string, dst [][]byte) ([][]byte, error) {
	err := r.packed(t, what, func(e []byte, tmp bool) error {
		if tmp {
			e = r.ar.clone(e)
		}
		dst = append(dst, e)
		return nil
	})
	return dst, err
}

func (r *reader) packed(t Type, what string, fn func(e []byte, tmp bool) error) error {
	blob, err := r.readStr(what, strArena)
	if err != nil {
		return err
	}
	switch t {
	case TypeListZiplist, TypeZSetZiplist, TypeHashZiplist:
		err = ziplistEach(blob, fn)
	default:
		err = listpackEach(blob, fn)
	}
	if err != nil {
		return r.corrupt("bad %s: %v", what, err)
	}
	return nil
}

func sortZSet(z []ZMember) {
	slices.SortFunc(z, func(a, b ZMember) int {
		if a.Score < b.Score {
			return -1
		}
		if a.Score > b.Score {
			return 1
		}
		return bytes.Compare(a.Member, b.Member)
	})
}

// Load decodes an RDB file from r, streaming keys to h. It returns an
// error (a *CorruptError for bad input, or the handler's error) unless the
// whole file up to and including the EOF opcode and checksum was read and
// the checksum, when non-zero, matched. When r is a *bufio.Reader, exactly
// the bytes of the RDB file are consumed from it.
func Load(r io.Reader, h Handler) (*Info, error) {
	limit := int64(-1)
	if l, ok := r.(interface{ Len() int }); ok {
		limit = int64(l.Len())
	}
	rd := newReader(r, limit)
	info := &Info{Aux: map[string]string{}}
	err := rd.load(h, info)
	info.BytesRead = rd.pos()
	rd.release()
	if err != nil {
		return info, err
	}
	return info, nil
}

func (rd *reader) load(h Handler, info *Info) error {
	hdr, err := rd.next(9, "header")
	if err != nil {
		return err
	}
	if string(hdr[:5]) != "REDIS" {
		return &CorruptError{Offset: 0, Reason: "bad magic (not an RDB file)"}
	}
	ver, err := strconv.Atoi(string(hdr[5:]))
	if err != nil || ver < 1 || hdr[5] < '0' || hdr[5] > '9' {
		return &CorruptError{Offset: 5, Reason: fmt.Sprintf("bad version %q", hdr[5:])}
	}
	if ver > MaxReadVersion {
		return &CorruptError{Offset: 5, Reason: fmt.Sprintf("unsupported RDB version %d", ver), Err: ErrUnsupported}
	}
	info.Version = ver
	if lh, ok := h.(ListpackHandler); ok && lh.RawHashListpacks() {
		rd.rawHashLP = true
	}
	e := &Entry{ExpireMs: 0, LRUIdle: -1, LFUFreq: -1}
	db := 0
	for {
		op, err := rd.readByte("opcode")
		if err != nil {
			return err
		}
		switch op {
		case opExpireTimeMs:
			u, err := rd.readUint64LE("expire time")
			if err != nil {
				return err
			}
			e.ExpireMs = int64(u)
			continue
		case opExpireTime:
			b, err := rd.next(4, "expire time")
			if err != nil {
				return err
			}
			e.ExpireMs = int64(int32(binary.LittleEndian.Uint32(b))) * 1000
			continue
		case opIdle:
			n, err := rd.readPlainLen("idle time")
			if err != nil {
				return err
			}
			if n > math.MaxInt64 {
				return rd.corrupt("idle time out of range")
			}
			e.LRUIdle = int64(n)
			continue
		case opFreq:
			c, err := rd.readByte("LFU frequency")
			if err != nil {
				return err
			}
			e.LFUFreq = int(c)
			continue
		case opSelectDB:
			n, err := rd.readPlainLen("database number")
			if err != nil {
				return err
			}
			if n > math.MaxInt32 {
				return rd.corrupt("database number %d out of range", n)
			}
			db = int(n)
			continue
		case opResizeDB:
			size, err := rd.readPlainLen("resizedb size")
			if err != nil {
				return err
			}
			exp, err := rd.readPlainLen("resizedb expires")
			if err != nil {
				return err
			}
			if err := h.ResizeDB(db, size, exp); err != nil {
				return err
			}
			continue
		case opAux:
			k, err := rd.readString("aux key")
			if err != nil {
				return err
			}
			v, err := rd.readString("aux value")
			if err != nil {
				return err
			}
			info.Aux[string(k)] = string(v)
			if err := h.Aux(string(k), string(v)); err != nil {
				return err
			}
			continue
		case opFunction2:
			code, err := rd.readString("function library")
			if err != nil {
				return err
			}
			info.Functions = append(info.Functions, string(code))
			if fh, ok := h.(FunctionHandler); ok {
				if err := fh.Function(code); err != nil {
					return err
				}
			}
			continue
		case opFunction:
			return rd.unsupported("opcode FUNCTION (Redis 7.0 release candidate format)")
		case opModuleAux:
			return rd.unsupported("opcode MODULE_AUX (module data)")
		case opEOF:
			sum := rd.sum()
			if ver >= 5 {
				stored, err := rd.readUint64LE("checksum")
				if err != nil {
					return err
				}
				info.Checksum = stored
				if stored != 0 {
					if stored != sum {
						return &CorruptError{Offset: rd.pos() - 8, Reason: fmt.Sprintf("bad checksum (expected %016x, got %016x)", stored, sum)}
					}
					info.ChecksumVerified = true
				}
			}
			return nil
		}
		// A key/value pair. The key is copied out of the input window
		// (reading the value may move it); a string value is a view.
		keyOff := rd.pos()
		key, err := rd.readStr("key", strView)
		if err != nil {
			return err
		}
		rd.key = append(rd.key[:0], key...)
		if err := rd.readObject(Type(op), &e.Value); err != nil {
			if ce, ok := err.(*CorruptError); ok && ce.Offset < keyOff {
				ce.Offset = keyOff
			}
			return err
		}
		e.DB = db
		e.Key = rd.key
		if err := h.Entry(e); err != nil {
			return err
		}
		e.ExpireMs, e.LRUIdle, e.LFUFreq = 0, -1, -1
		rd.ar.reset()
	}
}

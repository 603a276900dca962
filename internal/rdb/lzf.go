package rdb

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync"
)

// LZF block format (as used for RDB_ENC_LZF strings):
//
//	000LLLLL <L+1 literal bytes>          literal run of 1..32 bytes
//	LLLooooo oooooooo                     back reference, L in 1..6: length L+2
//	111ooooo LLLLLLLL oooooooo            back reference, length LLLLLLLL+9
//
// The offset (13 bits) is distance-1 from the current output position.

const (
	lzfMaxLit = 32
	lzfMaxOff = 1 << 13
	lzfMaxRef = 255 + 9
	lzfHLog   = 14
)

// errLZF is returned for malformed compressed data.
var errLZF = errors.New("invalid LZF data")

// LZFCompress compresses src. It returns nil if src is empty or the result
// would be longer than maxOut bytes (pass maxOut <= 0 for no limit).
func LZFCompress(src []byte, maxOut int) []byte {
	if len(src) == 0 {
		return nil
	}
	if maxOut <= 0 {
		maxOut = len(src) + len(src)/32 + 2
	}
	st := lzfPool.Get().(*lzfState)
	c := lzfCompressInto(make([]byte, 0, min(maxOut, len(src))), src, maxOut, &st.tab)
	lzfPool.Put(st)
	return c
}

// lzfTable is the hash table of lzfCompressInto: it maps a hash of 3 bytes
// to base + the last position having it. It is never cleared between
// inputs: each call takes positions above every value an earlier call
// stored (base moves past them), and values below base read as empty, so
// the output is exactly that of a fresh table. It is cleared only when
// base would overflow.
type lzfTable struct {
	htab [1 << lzfHLog]uint32
	base uint32
}

// lzfState is the reusable state of appendLZF: its table and an output
// buffer.
type lzfState struct {
	tab lzfTable
	out []byte
}

var lzfPool = sync.Pool{New: func() any { return new(lzfState) }}

// appendLZF appends src as an LZF-encoded string (0xC3, compressed length,
// length, data) to b if the compressed form is at most maxOut bytes, using
// pooled state (no allocation in the steady state).
func appendLZF(b, src []byte, maxOut int) ([]byte, bool) {
	st := lzfPool.Get().(*lzfState)
	c := lzfCompressInto(st.out[:0], src, maxOut, &st.tab)
	if c != nil {
		b = append(b, 0xC3)
		b = appendLen(b, uint64(len(c)))
		b = appendLen(b, uint64(len(src)))
		b = append(b, c...)
		if cap(c) <= 1<<20 {
			st.out = c[:0]
		}
	}
	lzfPool.Put(st)
	return b, c != nil
}

// lzfHash hashes the 3 bytes at src[i:] (4 must be readable).
func lzfHash(src []byte, i int) uint32 {
	return (binary.LittleEndian.Uint32(src[i:]) & 0xFFFFFF) * 2654435761 >> (32 - lzfHLog)
}

// lzfCompressInto compresses src into dst[:0] (nil if longer than maxOut).
// Like liblzf built the way Redis builds it (VERY_FAST), only the last two
// positions of a match are entered in the table, not every position.
func lzfCompressInto(dst, src []byte, maxOut int, t *lzfTable) []byte {
	if uint64(t.base)+uint64(len(src))+2 >= 1<<32-1 {
		clear(t.htab[:])
		t.base = 0
	}
	base := t.base + 1 // stored value of position i: base + i
	t.base += uint32(len(src)) + 1
	htab := &t.htab
	// The output is written by index into out[:maxOut] (no append checks);
	// o is its length.
	maxOut = max(maxOut, 0)
	out := dst[:0]
	if cap(out) < maxOut {
		out = make([]byte, 0, maxOut)
	}
	out = out[:maxOut]
	o := 0
	litStart := 0 // start of the pending literal run
	i := 0
	// Positions with 4 readable bytes (the last 3 bytes are left as
	// literals: a match there would save nothing).
	for i+3 < len(src) {
		v := binary.LittleEndian.Uint32(src[i:]) & 0xFFFFFF
		h := v * 2654435761 >> (32 - lzfHLog)
		stored := htab[h]
		htab[h] = base + uint32(i)
		ref := int(stored) - int(base)
		if stored < base || i-ref > lzfMaxOff || binary.LittleEndian.Uint32(src[ref:])&0xFFFFFF != v {
			i++
			continue
		}
		n := 3
		maxN := min(lzfMaxRef, len(src)-i)
		for n+8 <= maxN {
			x := binary.LittleEndian.Uint64(src[ref+n:]) ^ binary.LittleEndian.Uint64(src[i+n:])
			if x != 0 {
				n += bits.TrailingZeros64(x) >> 3
				goto matched
			}
			n += 8
		}
		for n < maxN && src[ref+n] == src[i+n] {
			n++
		}
	matched:
		// Flush the pending literals, then the back reference.
		for litStart < i {
			k := min(i-litStart, lzfMaxLit)
			if o+1+k > maxOut {
				return nil
			}
			out[o] = byte(k - 1)
			copy(out[o+1:o+1+k], src[litStart:litStart+k])
			o += 1 + k
			litStart += k
		}
		off := i - ref - 1
		l := n - 2
		if l < 7 {
			if o+2 > maxOut {
				return nil
			}
			out[o], out[o+1] = byte(l<<5|off>>8), byte(off)
			o += 2
		} else {
			if o+3 > maxOut {
				return nil
			}
			out[o], out[o+1], out[o+2] = byte(7<<5|off>>8), byte(l-7), byte(off)
			o += 3
		}
		end := i + n
		if end+2 < len(src) { // n >= 3: end-2 > i
			htab[lzfHash(src, end-2)] = base + uint32(end-2)
			htab[lzfHash(src, end-1)] = base + uint32(end-1)
		}
		i = end
		litStart = i
	}
	for litStart < len(src) {
		k := min(len(src)-litStart, lzfMaxLit)
		if o+1+k > maxOut {
			return nil
		}
		out[o] = byte(k - 1)
		copy(out[o+1:o+1+k], src[litStart:litStart+k])
		o += 1 + k
		litStart += k
	}
	return out[:o]
}

// LZFDecompress decompresses src, which must expand to exactly outLen bytes.
func LZFDecompress(src []byte, outLen int) ([]byte, error) {
	if outLen < 0 || outLen > len(src)*88+32 {
		return nil, errLZF
	}
	return lzfDecompressInto(make([]byte, 0, outLen), src, outLen)
}

// lzfDecompressInto is LZFDecompress appending to dst[:0], which should
// have capacity for outLen bytes.
func lzfDecompressInto(dst, src []byte, outLen int) ([]byte, error) {
	if outLen < 0 {
		return nil, errLZF
	}
	// Every 3 input bytes expand to at most 264 output bytes.
	if outLen > len(src)*88+32 {
		return nil, errLZF
	}
	out := dst[:0]
	if cap(out) < outLen {
		out = make([]byte, 0, outLen)
	}
	for i := 0; i < len(src); {
		c := int(src[i])
		i++
		if c < 32 {
			n := c + 1
			if i+n > len(src) || len(out)+n > outLen {
				return nil, errLZF
			}
			out = append(out, src[i:i+n]...)
			i += n
			continue
		}
		n := c >> 5
		if n == 7 {
			if i >= len(src) {
				return nil, errLZF
			}
			n += int(src[i])
			i++
		}
		n += 2
		if i >= len(src) {
			return nil, errLZF
		}
		ref := len(out) - ((c&0x1f)<<8 | int(src[i])) - 1
		i++
		if ref < 0 || len(out)+n > outLen {
			return nil, errLZF
		}
		if len(out)-ref >= n { // no overlap
			out = append(out, out[ref:ref+n]...)
			continue
		}
		for k := 0; k < n; k++ { // overlapping: copy byte by byte
			out = append(out, out[ref+k])
		}
	}
	if len(out) != outLen {
		return nil, errLZF
	}
	return out, nil
}

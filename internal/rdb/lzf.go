package rdb

import (
	"errors"
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
	c := lzfCompressInto(make([]byte, 0, min(maxOut, len(src))), src, maxOut, &st.htab)
	lzfPool.Put(st)
	return c
}

// lzfState is the reusable state of lzfCompressInto: its hash table (never
// cleared: see lzfCompressInto) and an output buffer.
type lzfState struct {
	htab [1 << lzfHLog]int32
	out  []byte
}

var lzfPool = sync.Pool{New: func() any { return new(lzfState) }}

// appendLZF appends src as an LZF-encoded string (0xC3, compressed length,
// length, data) to b if the compressed form is at most maxOut bytes, using
// pooled state (no allocation in the steady state).
func appendLZF(b, src []byte, maxOut int) ([]byte, bool) {
	st := lzfPool.Get().(*lzfState)
	c := lzfCompressInto(st.out[:0], src, maxOut, &st.htab)
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

// lzfCompressInto compresses src into dst[:0] (nil if longer than maxOut).
//
// htab maps a hash of 3 bytes to 1 + the last position having it. It need
// not be cleared between calls: every position before i is inserted during
// this call before i is looked up, so an entry left over from an earlier
// input can only survive for a hash no earlier position of src has, and
// then the bytes at that position can't match (the candidate is always
// verified, and checked to be before i). So the output is the same as
// with a fresh table.
func lzfCompressInto(dst, src []byte, maxOut int, htab *[1 << lzfHLog]int32) []byte {
	out := dst[:0]
	litStart := 0 // start of the pending literal run
	flushLit := func(end int) bool {
		for litStart < end {
			n := min(end-litStart, lzfMaxLit)
			if len(out)+1+n > maxOut {
				return false
			}
			out = append(out, byte(n-1))
			out = append(out, src[litStart:litStart+n]...)
			litStart += n
		}
		return true
	}
	i := 0
	for i+2 < len(src) {
		h := (uint32(src[i])<<16 | uint32(src[i+1])<<8 | uint32(src[i+2])) * 2654435761 >> (32 - lzfHLog)
		ref := int(htab[h]) - 1
		htab[h] = int32(i + 1)
		if ref >= 0 && ref < i && i-ref <= lzfMaxOff && src[ref] == src[i] && src[ref+1] == src[i+1] && src[ref+2] == src[i+2] {
			n := 3
			maxN := min(lzfMaxRef, len(src)-i)
			for n < maxN && src[ref+n] == src[i+n] {
				n++
			}
			if !flushLit(i) {
				return nil
			}
			off := i - ref - 1
			l := n - 2
			if l < 7 {
				if len(out)+2 > maxOut {
					return nil
				}
				out = append(out, byte(l<<5|off>>8), byte(off))
			} else {
				if len(out)+3 > maxOut {
					return nil
				}
				out = append(out, byte(7<<5|off>>8), byte(l-7), byte(off))
			}
			// index a couple of positions inside the match for better ratios
			end := i + n
			for j := i + 1; j < end && j+2 < len(src); j++ {
				hj := (uint32(src[j])<<16 | uint32(src[j+1])<<8 | uint32(src[j+2])) * 2654435761 >> (32 - lzfHLog)
				htab[hj] = int32(j + 1)
			}
			i = end
			litStart = i
			continue
		}
		i++
	}
	if !flushLit(len(src)) {
		return nil
	}
	return out
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

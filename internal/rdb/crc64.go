package rdb

import (
	"encoding/binary"
	"hash"
)

// crc64Poly is the reflected form of the Jones polynomial
// 0xad93d23594c935a9 used by Redis (init 0, no final xor, reflected in/out).
const crc64Poly = 0x95ac9329ac4bc9b5

var crc64Tab [8][256]uint64

func init() {
	for i := 0; i < 256; i++ {
		c := uint64(i)
		for k := 0; k < 8; k++ {
			if c&1 == 1 {
				c = c>>1 ^ crc64Poly
			} else {
				c >>= 1
			}
		}
		crc64Tab[0][i] = c
	}
	for i := 0; i < 256; i++ {
		c := crc64Tab[0][i]
		for t := 1; t < 8; t++ {
			c = crc64Tab[0][c&0xff] ^ c>>8
			crc64Tab[t][i] = c
		}
	}
}

// crcBlock is the length of each of the three streams CRC64Update
// computes side by side.
const crcBlock = 2048

// crcShiftBlock and crcShift2Blocks are x^(8*crcBlock) and
// x^(16*crcBlock) mod P: multiplying a CRC by them appends crcBlock
// (2*crcBlock) zero bytes.
var crcShiftBlock, crcShift2Blocks uint64

func init() {
	var zeros [2 * crcBlock]byte
	crcShiftBlock = crc64Slice8(1<<63, zeros[:crcBlock])
	crcShift2Blocks = crc64Slice8(1<<63, zeros[:])
}

// CRC64Update returns the CRC-64/Jones checksum of p continued from crc.
//
// Large inputs are cut into runs of three crcBlock-byte blocks whose CRCs
// are computed in one loop (three independent dependency chains instead of
// one, so the table lookups of one block overlap those of the others) and
// combined with crc(A|B) = crc(A)*x^(8|B|) + crc(B) (the CRC has no initial
// value or final xor, so it is linear).
func CRC64Update(crc uint64, p []byte) uint64 {
	for len(p) >= 3*crcBlock {
		a := (*[crcBlock]byte)(p[:crcBlock])
		b := (*[crcBlock]byte)(p[crcBlock : 2*crcBlock])
		c := (*[crcBlock]byte)(p[2*crcBlock : 3*crcBlock])
		ca, cb, cc := crc, uint64(0), uint64(0)
		for i := 0; i <= crcBlock-8; i += 8 {
			ca = crc64Mix(ca ^ binary.LittleEndian.Uint64(a[i:]))
			cb = crc64Mix(cb ^ binary.LittleEndian.Uint64(b[i:]))
			cc = crc64Mix(cc ^ binary.LittleEndian.Uint64(c[i:]))
		}
		crc = gfMul(ca, crcShift2Blocks) ^ gfMul(cb, crcShiftBlock) ^ cc
		p = p[3*crcBlock:]
	}
	return crc64Slice8(crc, p)
}

// crc64Mix advances a CRC already xored with the next 8 input bytes.
func crc64Mix(crc uint64) uint64 {
	return crc64Tab[7][crc&0xff] ^ crc64Tab[6][crc>>8&0xff] ^ crc64Tab[5][crc>>16&0xff] ^
		crc64Tab[4][crc>>24&0xff] ^ crc64Tab[3][crc>>32&0xff] ^ crc64Tab[2][crc>>40&0xff] ^
		crc64Tab[1][crc>>48&0xff] ^ crc64Tab[0][crc>>56]
}

// crc64Step8 advances crc over 8 bytes (slicing-by-8).
func crc64Step8(crc uint64, p []byte) uint64 {
	return crc64Mix(crc ^ binary.LittleEndian.Uint64(p))
}

// crc64Slice8 is the one-stream slicing-by-8 CRC.
func crc64Slice8(crc uint64, p []byte) uint64 {
	for len(p) >= 8 {
		crc = crc64Step8(crc, p[:8])
		p = p[8:]
	}
	for _, b := range p {
		crc = crc64Tab[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}

// gfMul multiplies two polynomials modulo P in the reflected bit order of
// the CRC (bit 63 is x^0), as zlib's multmodp.
func gfMul(a, b uint64) uint64 {
	var p uint64
	for m := uint64(1) << 63; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ crc64Poly
		} else {
			b >>= 1
		}
	}
	return p
}

// CRC64 returns the CRC-64/Jones checksum of p, as used by RDB files and
// DUMP payloads. CRC64([]byte("123456789")) == 0xe9c6d914c4b8d9ca.
func CRC64(p []byte) uint64 { return CRC64Update(0, p) }

type crc64Hash struct{ crc uint64 }

// NewCRC64 returns a hash.Hash64 computing CRC64. Sum appends the checksum
// little-endian, the byte order used in RDB files.
func NewCRC64() hash.Hash64 { return &crc64Hash{} }

func (h *crc64Hash) Write(p []byte) (int, error) { h.crc = CRC64Update(h.crc, p); return len(p), nil }
func (h *crc64Hash) Sum64() uint64               { return h.crc }
func (h *crc64Hash) Reset()                      { h.crc = 0 }
func (h *crc64Hash) Size() int                   { return 8 }
func (h *crc64Hash) BlockSize() int              { return 8 }
func (h *crc64Hash) Sum(b []byte) []byte {
	c := h.crc
	return append(b, byte(c), byte(c>>8), byte(c>>16), byte(c>>24), byte(c>>32), byte(c>>40), byte(c>>48), byte(c>>56))
}

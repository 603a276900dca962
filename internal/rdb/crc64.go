package rdb

import "hash"

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

// CRC64Update returns the CRC-64/Jones checksum of p continued from crc.
func CRC64Update(crc uint64, p []byte) uint64 {
	for len(p) >= 8 {
		crc ^= uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
		crc = crc64Tab[7][crc&0xff] ^ crc64Tab[6][crc>>8&0xff] ^ crc64Tab[5][crc>>16&0xff] ^
			crc64Tab[4][crc>>24&0xff] ^ crc64Tab[3][crc>>32&0xff] ^ crc64Tab[2][crc>>40&0xff] ^
			crc64Tab[1][crc>>48&0xff] ^ crc64Tab[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc64Tab[0][byte(crc)^b] ^ crc>>8
	}
	return crc
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

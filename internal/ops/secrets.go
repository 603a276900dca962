package ops

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
)

// secretGen produces passwords. With a seed it is a deterministic stream
// (SHA-256(seed || counter) blocks), so `vigil plan --secret-seed N` writes
// byte-identical bundles for golden tests and reviews; without one it reads
// crypto/rand.
type secretGen struct {
	seed   []byte
	seeded bool
	ctr    uint64
	buf    []byte
}

func newSecretGen(seed string, seeded bool) *secretGen {
	return &secretGen{seed: []byte("vigil-plan-secret:" + seed), seeded: seeded}
}

func (g *secretGen) byte() byte {
	if len(g.buf) == 0 {
		if g.seeded {
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], g.ctr)
			g.ctr++
			sum := sha256.Sum256(append(append([]byte(nil), g.seed...), c[:]...))
			g.buf = sum[:]
		} else {
			g.buf = make([]byte, 64)
			if _, err := rand.Read(g.buf); err != nil {
				panic(err) // crypto/rand never fails on Linux
			}
		}
	}
	b := g.buf[0]
	g.buf = g.buf[1:]
	return b
}

const pwAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// password returns n characters from [A-Za-z0-9] (about 5.95 bits each;
// 40 characters ≈ 238 bits), without modulo bias. No shell or config
// metacharacters, so it can be pasted into redis-cli -a and configs as is.
func (g *secretGen) password(n int) string {
	out := make([]byte, 0, n)
	const limit = 256 - 256%len(pwAlphabet)
	for len(out) < n {
		b := g.byte()
		if int(b) >= limit {
			continue
		}
		out = append(out, pwAlphabet[int(b)%len(pwAlphabet)])
	}
	return string(out)
}

package keyspace

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func hashTestRnd() func(uint64) uint64 {
	r := rand.New(rand.NewPCG(1, 2))
	return r.Uint64N
}

func TestHashCompactBasics(t *testing.T) {
	h := NewHash()
	if h.Encoding() != "listpack" || h.Len() != 0 {
		t.Fatal("new hash")
	}
	if !h.Set([]byte("a"), []byte("1")) || !h.Set([]byte("b"), []byte("")) || !h.Set([]byte(""), []byte("x\x00y")) {
		t.Fatal("set new")
	}
	if h.Set([]byte("a"), []byte("longer value")) {
		t.Fatal("update reported new")
	}
	if h.Set([]byte("b"), []byte("bb")) {
		t.Fatal("update reported new")
	}
	if v, ok := h.Get([]byte("a")); !ok || string(v) != "longer value" {
		t.Fatalf("get a = %q %v", v, ok)
	}
	if v, ok := h.Get([]byte("")); !ok || string(v) != "x\x00y" {
		t.Fatalf("get empty = %q", v)
	}
	h.Set([]byte("a"), []byte("s"))
	var got []string
	h.Each(func(f, v []byte) bool { got = append(got, string(f)+"="+string(v)); return true })
	if strings.Join(got, ",") != "a=s,b=bb,=x\x00y" {
		t.Fatalf("order %q", got)
	}
	if !h.Delete([]byte("b")) || h.Delete([]byte("b")) || h.Len() != 2 {
		t.Fatal("delete")
	}
	if _, ok := h.Get([]byte("b")); ok {
		t.Fatal("deleted still there")
	}
	c := h.Clone().(*Hash)
	h.Set([]byte("a"), []byte("changed"))
	if v, _ := c.Get([]byte("a")); string(v) != "s" {
		t.Fatal("clone shares storage")
	}
}

func TestHashConversion(t *testing.T) {
	h := NewHash()
	for i := 0; i < 4; i++ {
		h.SetLimits([]byte(fmt.Sprint("f", i)), []byte("v"), 4, 10)
	}
	if h.Encoding() != "listpack" {
		t.Fatal("converted too early")
	}
	h.SetLimits([]byte("f4"), []byte("v"), 4, 10)
	if h.Encoding() != "hashtable" || h.Len() != 5 {
		t.Fatal("not converted on entries", h.Encoding(), h.Len())
	}
	for i := 0; i < 5; i++ {
		h.Delete([]byte(fmt.Sprint("f", i)))
	}
	if h.Encoding() != "hashtable" {
		t.Fatal("conversion must be one way")
	}
	h2 := NewHash()
	h2.SetLimits([]byte("f"), []byte(strings.Repeat("x", 11)), 4, 10)
	if h2.Encoding() != "hashtable" {
		t.Fatal("not converted on value length")
	}
	h3 := NewHash()
	h3.SetLimits([]byte("f"), []byte(strings.Repeat("x", 10)), 4, 10)
	if h3.Encoding() != "listpack" {
		t.Fatal("converted at exactly the limit")
	}
	h3.Convert(4, 9)
	if h3.Encoding() != "hashtable" {
		t.Fatal("Convert")
	}
	if v, _ := h3.Get([]byte("f")); string(v) != strings.Repeat("x", 10) {
		t.Fatal("value lost in conversion")
	}
}

func TestHashTableMany(t *testing.T) {
	h := NewHash()
	ref := map[string]string{}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		k := fmt.Sprint("k", r.IntN(5000))
		switch r.IntN(3) {
		case 0, 1:
			v := fmt.Sprint(i)
			_, existed := ref[k]
			if h.Set([]byte(k), []byte(v)) == existed {
				t.Fatalf("Set(%s) new mismatch", k)
			}
			ref[k] = v
		case 2:
			_, existed := ref[k]
			if h.Delete([]byte(k)) != existed {
				t.Fatalf("Delete(%s) mismatch", k)
			}
			delete(ref, k)
		}
		if h.Len() != len(ref) {
			t.Fatalf("len %d want %d", h.Len(), len(ref))
		}
	}
	for k, v := range ref {
		if got, ok := h.Get([]byte(k)); !ok || string(got) != v {
			t.Fatalf("get %s", k)
		}
	}
	n := 0
	h.Each(func(f, v []byte) bool { n++; return ref[string(f)] == string(v) })
	if n != len(ref) {
		t.Fatal("each")
	}
	rnd := hashTestRnd()
	for i := 0; i < 100; i++ {
		f, v := h.Random(rnd)
		if ref[string(f)] != string(v) {
			t.Fatal("random")
		}
	}
}

// A full scan while the table grows (and shrinks) between calls returns
// every element present for the whole scan.
func TestHashScanWhileResizing(t *testing.T) {
	for _, grow := range []bool{true, false} {
		h := NewHash()
		for i := 0; i < 1000; i++ {
			h.Set([]byte(fmt.Sprint("stable", i)), []byte("v"))
		}
		h.ConvertToHashtable()
		if !grow {
			for i := 0; i < 20000; i++ {
				h.Set([]byte(fmt.Sprint("tmp", i)), []byte("v"))
			}
		}
		seen := map[string]bool{}
		var cursor uint64
		step := 0
		for {
			cursor = h.Scan(cursor, func(f, v []byte) { seen[string(f)] = true })
			step++
			if grow {
				if step < 3000 {
					h.Set([]byte(fmt.Sprint("new", step)), []byte("v"))
				}
			} else {
				for i := 0; i < 200; i++ {
					h.Delete([]byte(fmt.Sprint("tmp", step*200+i)))
				}
			}
			if cursor == 0 {
				break
			}
		}
		for i := 0; i < 1000; i++ {
			if !seen[fmt.Sprint("stable", i)] {
				t.Fatalf("grow=%v: scan missed stable%d", grow, i)
			}
		}
	}
}

func TestHashCompactScanOneCall(t *testing.T) {
	h := NewHash()
	h.Set([]byte("a"), []byte("1"))
	h.Set([]byte("b"), []byte("2"))
	var got []string
	if c := h.Scan(0, func(f, v []byte) { got = append(got, string(f), string(v)) }); c != 0 {
		t.Fatal("cursor")
	}
	if strings.Join(got, " ") != "a 1 b 2" {
		t.Fatal(got)
	}
}

package keyspace

import (
	"fmt"
	"strings"
	"testing"
)

func TestSetIntsetAndConversion(t *testing.T) {
	s := NewSet()
	for _, m := range []string{"5", "-3", "100", "0", "5"} {
		s.Add([]byte(m))
	}
	if s.Encoding() != "intset" || s.Len() != 4 {
		t.Fatal(s.Encoding(), s.Len())
	}
	var got []string
	s.Each(func(m []byte) bool { got = append(got, string(m)); return true })
	if strings.Join(got, ",") != "-3,0,5,100" {
		t.Fatal(got)
	}
	if s.Has([]byte("05")) || s.Has([]byte("+5")) || !s.Has([]byte("5")) {
		t.Fatal("has")
	}
	// Non-canonical integers are strings: converts.
	s.Add([]byte("07"))
	if s.Encoding() != "hashtable" || !s.Has([]byte("07")) || !s.Has([]byte("100")) || s.Has([]byte("7")) {
		t.Fatal("conversion on non-integer")
	}
	s.Remove([]byte("07"))
	if s.Encoding() != "hashtable" {
		t.Fatal("one way")
	}
	s2 := NewSet()
	for i := 0; i < 10; i++ {
		s2.AddLimit([]byte(fmt.Sprint(i)), 10)
	}
	if s2.Encoding() != "intset" {
		t.Fatal("early")
	}
	s2.AddLimit([]byte("10"), 10)
	if s2.Encoding() != "hashtable" || s2.Len() != 11 {
		t.Fatal("size conversion")
	}
	c := s2.Clone().(*Set)
	s2.Remove([]byte("1"))
	if !c.Has([]byte("1")) {
		t.Fatal("clone shared")
	}
	if !s2.Has([]byte("-0")) == false {
		// "-0" is not canonical: not a member
	}
	s3 := NewSet()
	s3.Add([]byte("9223372036854775807"))
	s3.Add([]byte("-9223372036854775808"))
	if s3.Encoding() != "intset" {
		t.Fatal("int64 bounds")
	}
	s3.Add([]byte("9223372036854775808"))
	if s3.Encoding() != "hashtable" {
		t.Fatal("overflow is a string")
	}
}

func TestSetScanWhileGrowing(t *testing.T) {
	s := NewSet()
	for i := 0; i < 600; i++ {
		s.Add([]byte(fmt.Sprint("m", i)))
	}
	seen := map[string]bool{}
	var cursor uint64
	step := 0
	for {
		cursor = s.Scan(cursor, func(m []byte) { seen[string(m)] = true })
		step++
		if step < 2000 {
			s.Add([]byte(fmt.Sprint("x", step)))
		}
		if cursor == 0 {
			break
		}
	}
	for i := 0; i < 600; i++ {
		if !seen[fmt.Sprint("m", i)] {
			t.Fatalf("missed m%d", i)
		}
	}
	rnd := hashTestRnd()
	for i := 0; i < 100; i++ {
		if !s.Has(s.Random(rnd)) {
			t.Fatal("random not member")
		}
	}
}

package keyspace

// List is Redis's list type: a deque of chunks (like quicklist), so pushes
// and pops at both ends are O(1) and indexing is O(n/chunk).

const listChunkMax = 128

type listNode struct {
	items      [][]byte
	prev, next *listNode
}

// List is a chunked deque of byte strings.
type List struct {
	head, tail *listNode
	n          int
	bytes      int64
}

// NewList returns an empty list.
func NewList() *List { return &List{} }

// Len implements Collection.
func (l *List) Len() int { return l.n }

// MemUsage implements Collection.
func (l *List) MemUsage() int64 {
	nodes := int64(l.n/listChunkMax + 1)
	return 48 + nodes*(48+listChunkMax*24/2) + l.bytes + int64(l.n)*8
}

// Encoding implements Collection. Redis 7.0 always reports quicklist.
func (l *List) Encoding() string { return "quicklist" }

// Clone implements Collection.
func (l *List) Clone() Collection {
	nl := NewList()
	l.Each(func(v []byte) bool {
		nl.PushBack(append([]byte(nil), v...))
		return true
	})
	return nl
}

// PushBack appends v (the list keeps v; callers pass a private copy).
func (l *List) PushBack(v []byte) {
	t := l.tail
	if t == nil || len(t.items) >= listChunkMax {
		nn := &listNode{items: make([][]byte, 0, 8), prev: t}
		if t == nil {
			l.head = nn
		} else {
			t.next = nn
		}
		l.tail = nn
		t = nn
	}
	t.items = append(t.items, v)
	l.n++
	l.bytes += int64(len(v))
}

// PushFront prepends v.
func (l *List) PushFront(v []byte) {
	h := l.head
	if h == nil || len(h.items) >= listChunkMax {
		nn := &listNode{items: make([][]byte, 0, 8), next: h}
		if h == nil {
			l.tail = nn
		} else {
			h.prev = nn
		}
		l.head = nn
		h = nn
	}
	h.items = append(h.items, nil)
	copy(h.items[1:], h.items)
	h.items[0] = v
	l.n++
	l.bytes += int64(len(v))
}

func (l *List) unlink(nd *listNode) {
	if nd.prev != nil {
		nd.prev.next = nd.next
	} else {
		l.head = nd.next
	}
	if nd.next != nil {
		nd.next.prev = nd.prev
	} else {
		l.tail = nd.prev
	}
}

// PopFront removes and returns the first element (nil, false when empty).
func (l *List) PopFront() ([]byte, bool) {
	h := l.head
	if h == nil {
		return nil, false
	}
	v := h.items[0]
	h.items[0] = nil
	h.items = h.items[1:]
	if len(h.items) == 0 {
		l.unlink(h)
	}
	l.n--
	l.bytes -= int64(len(v))
	return v, true
}

// PopBack removes and returns the last element.
func (l *List) PopBack() ([]byte, bool) {
	t := l.tail
	if t == nil {
		return nil, false
	}
	i := len(t.items) - 1
	v := t.items[i]
	t.items[i] = nil
	t.items = t.items[:i]
	if len(t.items) == 0 {
		l.unlink(t)
	}
	l.n--
	l.bytes -= int64(len(v))
	return v, true
}

// locate returns the node holding index i (0 <= i < n) and the offset in it.
func (l *List) locate(i int) (*listNode, int) {
	if i < l.n/2 {
		for nd := l.head; nd != nil; nd = nd.next {
			if i < len(nd.items) {
				return nd, i
			}
			i -= len(nd.items)
		}
		return nil, 0
	}
	j := l.n - 1 - i // index from the tail
	for nd := l.tail; nd != nil; nd = nd.prev {
		if j < len(nd.items) {
			return nd, len(nd.items) - 1 - j
		}
		j -= len(nd.items)
	}
	return nil, 0
}

// Index returns element i (0-based from the head; negative counts from the tail).
func (l *List) Index(i int) ([]byte, bool) {
	if i < 0 {
		i += l.n
	}
	if i < 0 || i >= l.n {
		return nil, false
	}
	nd, off := l.locate(i)
	return nd.items[off], true
}

// Set replaces element i (normalised, 0 <= i < Len).
func (l *List) Set(i int, v []byte) bool {
	if i < 0 {
		i += l.n
	}
	if i < 0 || i >= l.n {
		return false
	}
	nd, off := l.locate(i)
	l.bytes += int64(len(v) - len(nd.items[off]))
	nd.items[off] = v
	return true
}

// Insert puts v at index i (0 <= i <= Len), shifting later elements.
func (l *List) Insert(i int, v []byte) {
	if i <= 0 {
		l.PushFront(v)
		return
	}
	if i >= l.n {
		l.PushBack(v)
		return
	}
	nd, off := l.locate(i)
	nd.items = append(nd.items, nil)
	copy(nd.items[off+1:], nd.items[off:])
	nd.items[off] = v
	l.n++
	l.bytes += int64(len(v))
	if len(nd.items) > listChunkMax {
		half := len(nd.items) / 2
		nn := &listNode{items: append(make([][]byte, 0, len(nd.items)-half), nd.items[half:]...), prev: nd, next: nd.next}
		for k := half; k < len(nd.items); k++ {
			nd.items[k] = nil
		}
		nd.items = nd.items[:half]
		if nd.next != nil {
			nd.next.prev = nn
		} else {
			l.tail = nn
		}
		nd.next = nn
	}
}

// Each calls fn for every element from head to tail until it returns false.
func (l *List) Each(fn func(v []byte) bool) {
	for nd := l.head; nd != nil; nd = nd.next {
		for _, v := range nd.items {
			if !fn(v) {
				return
			}
		}
	}
}

// EachReverse calls fn for every element from tail to head until it returns false.
func (l *List) EachReverse(fn func(v []byte) bool) {
	for nd := l.tail; nd != nil; nd = nd.prev {
		for k := len(nd.items) - 1; k >= 0; k-- {
			if !fn(nd.items[k]) {
				return
			}
		}
	}
}

// Range calls fn for the elements with indexes start..end inclusive
// (already clamped: 0 <= start <= end < Len), head to tail.
func (l *List) Range(start, end int, fn func(v []byte)) {
	if start > end || start >= l.n {
		return
	}
	nd, off := l.locate(start)
	left := end - start + 1
	for nd != nil && left > 0 {
		for ; off < len(nd.items) && left > 0; off++ {
			fn(nd.items[off])
			left--
		}
		nd = nd.next
		off = 0
	}
}

// RangeReverse calls fn for indexes end down to start (clamped as Range).
func (l *List) RangeReverse(start, end int, fn func(v []byte)) {
	if start > end || end >= l.n {
		return
	}
	nd, off := l.locate(end)
	left := end - start + 1
	for nd != nil && left > 0 {
		for ; off >= 0 && left > 0; off-- {
			fn(nd.items[off])
			left--
		}
		nd = nd.prev
		if nd != nil {
			off = len(nd.items) - 1
		}
	}
}

// Filter keeps the elements for which keep returns true, walking head to
// tail (or tail to head when reverse); it returns how many were removed.
func (l *List) Filter(reverse bool, keep func(v []byte) bool) int {
	removed := 0
	if !reverse {
		for nd := l.head; nd != nil; {
			next := nd.next
			w := 0
			for _, v := range nd.items {
				if keep(v) {
					nd.items[w] = v
					w++
				} else {
					removed++
					l.bytes -= int64(len(v))
				}
			}
			for k := w; k < len(nd.items); k++ {
				nd.items[k] = nil
			}
			nd.items = nd.items[:w]
			if w == 0 {
				l.unlink(nd)
			}
			nd = next
		}
	} else {
		for nd := l.tail; nd != nil; {
			prev := nd.prev
			keepFlags := make([]bool, len(nd.items))
			for k := len(nd.items) - 1; k >= 0; k-- {
				keepFlags[k] = keep(nd.items[k])
			}
			w := 0
			for k, v := range nd.items {
				if keepFlags[k] {
					nd.items[w] = v
					w++
				} else {
					removed++
					l.bytes -= int64(len(v))
				}
			}
			for k := w; k < len(nd.items); k++ {
				nd.items[k] = nil
			}
			nd.items = nd.items[:w]
			if w == 0 {
				l.unlink(nd)
			}
			nd = prev
		}
	}
	l.n -= removed
	return removed
}

// Trim keeps only indexes start..end (clamped; start > end empties the list).
func (l *List) Trim(start, end int) {
	if start > end || start >= l.n {
		for l.n > 0 {
			l.PopBack()
		}
		return
	}
	rtrim := l.n - 1 - end
	for i := 0; i < start; i++ {
		l.PopFront()
	}
	for i := 0; i < rtrim; i++ {
		l.PopBack()
	}
}

package persist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/lowprio"
	"github.com/vigil-kv/vigil/internal/rdb"
	"github.com/vigil-kv/vigil/internal/server"
)

// WriteOptions controls how a snapshot is encoded.
type WriteOptions struct {
	Compress   bool
	Checksum   bool
	Thresholds *rdb.Thresholds
	Aux        [][2]string // extra AUX fields (repl-id, repl-offset, aof-base ...)
}

// WriteSnapshot encodes snap as a complete RDB stream to w. It reads only
// the snapshot, so it runs without the keyspace lock.
//
// The capture is finished first, at normal priority: it takes the keyspace
// lock in short chunks, and a low-priority thread holding the lock would
// make clients wait for it. The encoding that follows reads only the
// snapshot, on a low-priority thread of its own (package lowprio), so the
// threads serving clients come first when the CPUs are busy.
func WriteSnapshot(w io.Writer, snap *keyspace.Snapshot, opt WriteOptions) (int64, error) {
	return inBackground(snap, func(lists []keyspace.SnapList, p *lowprio.Pacer) (int64, error) {
		return encodeLists(w, lists, opt, p)
	})
}

// inBackground finishes snap's capture on the calling goroutine, then runs
// work on the captured lists in the background (lowprio.Run: paced on the
// calling goroutine when the server has one CPU, on a thread of its own
// at a lowered priority when it has more).
func inBackground(snap *keyspace.Snapshot, work func([]keyspace.SnapList, *lowprio.Pacer) (int64, error)) (int64, error) {
	lists := snap.Lists()
	var n int64
	var err error
	lowprio.Run(func(p *lowprio.Pacer) { n, err = work(lists, p) })
	return n, err
}

// encodeLists writes the RDB header, the captured entries and the trailer.
func encodeLists(w io.Writer, lists []keyspace.SnapList, opt WriteOptions, p *lowprio.Pacer) (int64, error) {
	enc, err := beginRDB(w, opt)
	if err != nil {
		return 0, err
	}
	return writeLists(enc, lists, p)
}

// writeLists encodes the captured entries and the RDB trailer.
// It calls p.Pace after every batch of entries (a few microseconds).
func writeLists(enc *rdb.Encoder, lists []keyspace.SnapList, p *lowprio.Pacer) (int64, error) {
	var sc encodeScratch
	for dbID, list := range lists {
		if list.Len() == 0 {
			continue
		}
		expires := 0
		for se := range list.All() {
			if se.Expire != 0 {
				expires++
			}
		}
		if err := beginDB(enc, dbID, list.Len(), expires); err != nil {
			return 0, err
		}
		for _, seg := range list.Segments() {
			for i := 0; i < len(seg); i += prefetchBatch {
				if err := sc.encodeBatch(enc, dbID, seg[i:min(i+prefetchBatch, len(seg))]); err != nil {
					return 0, err
				}
				p.Pace()
			}
		}
	}
	if err := enc.Finish(); err != nil {
		return 0, err
	}
	return enc.Written(), nil
}

// WriteKeyspace encodes the live keyspace as a complete RDB stream to w,
// with the keyspace lock held for the whole write (a foreground SAVE): one
// pass over the tables, no snapshot to capture first. Keys already
// expired are left out, as in a snapshot.
func WriteKeyspace(w io.Writer, ks *keyspace.Keyspace, opt WriteOptions) (int64, error) {
	enc, err := beginRDB(w, opt)
	if err != nil {
		return 0, err
	}
	var now int64
	if ks.Now != nil {
		now = ks.Now()
	}
	var sc encodeScratch
	var batch [prefetchBatch]keyspace.SnapEntry
	for dbID, db := range ks.DBs {
		if db.Len() == 0 {
			continue
		}
		if err := beginDB(enc, dbID, db.Len(), db.ExpiresLen()); err != nil {
			return 0, err
		}
		n := 0
		db.Dict().ForEach(func(e *keyspace.Entry) bool {
			exp := e.Expire()
			if exp != 0 && exp <= now {
				return true
			}
			batch[n] = keyspace.SnapEntry{E: e, Expire: exp}
			if n++; n < len(batch) {
				return true
			}
			n = 0
			err = sc.encodeBatch(enc, dbID, batch[:])
			return err == nil
		})
		if err == nil {
			err = sc.encodeBatch(enc, dbID, batch[:n])
		}
		if err != nil {
			return 0, err
		}
	}
	if err := enc.Finish(); err != nil {
		return 0, err
	}
	return enc.Written(), nil
}

// beginRDB starts an encoder on w and writes the header and AUX fields.
func beginRDB(w io.Writer, opt WriteOptions) (*rdb.Encoder, error) {
	enc := rdb.NewEncoder(w, rdb.Options{Compress: opt.Compress, Checksum: opt.Checksum, Thresholds: opt.Thresholds})
	if err := enc.Header(); err != nil {
		return nil, err
	}
	aux := [][2]string{
		{"redis-ver", "7.0.15"},
		{"redis-bits", "64"},
		{"ctime", strconv.FormatInt(time.Now().Unix(), 10)},
		{"used-mem", "0"},
	}
	aux = append(aux, opt.Aux...)
	for _, a := range aux {
		if err := enc.Aux(a[0], a[1]); err != nil {
			return nil, err
		}
	}
	return enc, nil
}

func beginDB(enc *rdb.Encoder, id, keys, expires int) error {
	if err := enc.SelectDB(id); err != nil {
		return err
	}
	return enc.ResizeDB(uint64(keys), uint64(expires))
}

// prefetchBatch is how many captured entries prefetchEntries touches ahead
// of the encoder.
const prefetchBatch = 32

// prefetchSink keeps prefetchEntries' loads from being optimised away
// (atomic: saves may run concurrently).
var prefetchSink atomic.Uintptr

// prefetchEntries loads, in tight loops of independent loads that the CPU
// overlaps, the memory the encoder is about to read for a batch of
// entries scattered over the heap: the entries themselves, then their key
// and string bytes. One by one, each key would wait for two or three cache
// misses in turn.
func prefetchEntries(batch []keyspace.SnapEntry) {
	var sink uintptr
	for _, se := range batch {
		e := se.E
		sink += uintptr(len(e.Key())) + uintptr(e.Type)
	}
	for _, se := range batch {
		e := se.E
		if k := e.Key(); len(k) > 0 {
			sink += uintptr(k[0])
		}
		if len(e.Str) > 0 {
			sink += uintptr(e.Str[0])
		}
	}
	if len(batch) > 0 && batch[0].E.Type == keyspace.TypeHash { // hashes: the Hash, then its listpack
		for _, se := range batch {
			if h, ok := se.E.Coll.(*keyspace.Hash); ok {
				sink += uintptr(len(h.Listpack()))
			}
		}
		for _, se := range batch {
			if h, ok := se.E.Coll.(*keyspace.Hash); ok {
				if lp := h.Listpack(); len(lp) > 0 {
					sink += uintptr(lp[0])
				}
			}
		}
	}
	prefetchSink.Add(sink)
}

// encodeScratch holds the buffers reused to encode collections.
type encodeScratch struct {
	ent  rdb.Entry
	num  []byte
	end  []int
	list [][]byte
	set  [][]byte
	zset []rdb.ZMember
	hash []rdb.HashField
}

// encodeBatch writes a batch of entries, prefetching them first.
func (sc *encodeScratch) encodeBatch(enc *rdb.Encoder, db int, batch []keyspace.SnapEntry) error {
	prefetchEntries(batch)
	for _, se := range batch {
		if err := sc.encode(enc, db, se.E, se.Expire); err != nil {
			return err
		}
	}
	return nil
}

// encode writes one captured entry (read only: Key, Type, Str, Coll).
func (sc *encodeScratch) encode(enc *rdb.Encoder, db int, e *keyspace.Entry, expire int64) error {
	if e.Type == keyspace.TypeString {
		return enc.StringEntry(db, keyBytes(e.Key()), e.Str, expire)
	}
	if e.Type == keyspace.TypeHash {
		// A small hash is a listpack in memory already: copy the blob.
		h := e.Coll.(*keyspace.Hash)
		if lp := h.Listpack(); lp != nil {
			if ok, err := enc.HashListpackEntry(db, keyBytes(e.Key()), lp, h.Len(), expire); ok || err != nil {
				return err
			}
		}
	}
	if err := sc.value(e); err != nil {
		return err
	}
	sc.ent.DB, sc.ent.Key, sc.ent.ExpireMs, sc.ent.LRUIdle, sc.ent.LFUFreq = db, keyBytes(e.Key()), expire, -1, -1
	return enc.Entry(&sc.ent)
}

// value converts a collection into sc.ent.Value, reusing the scratch
// slices of each type.
func (sc *encodeScratch) value(e *keyspace.Entry) error {
	v := &sc.ent.Value
	switch e.Type {
	case keyspace.TypeList:
		l := e.Coll.(*keyspace.List)
		list := sc.list[:0]
		l.Each(func(x []byte) bool { list = append(list, x); return true })
		sc.list = list
		*v = rdb.Value{Type: rdb.TypeList, List: list}
		return nil
	case keyspace.TypeSet:
		s := e.Coll.(*keyspace.Set)
		set := sc.set[:0]
		if !s.IsIntset() { // hashtable members are stable: share them
			s.Each(func(x []byte) bool { set = append(set, x); return true })
		} else {
			// An intset formats its members into one reused buffer: copy
			// them into ours, then slice it once it stopped growing.
			sc.num, sc.end = sc.num[:0], sc.end[:0]
			s.Each(func(x []byte) bool {
				sc.num = append(sc.num, x...)
				sc.end = append(sc.end, len(sc.num))
				return true
			})
			start := 0
			for _, end := range sc.end {
				set = append(set, sc.num[start:end:end])
				start = end
			}
		}
		sc.set = set
		*v = rdb.Value{Type: rdb.TypeSet, Set: set}
		return nil
	case keyspace.TypeZSet:
		z := e.Coll.(*keyspace.ZSet)
		zs := sc.zset[:0]
		z.Each(func(m []byte, score float64) bool {
			zs = append(zs, rdb.ZMember{Member: m, Score: score})
			return true
		})
		sc.zset = zs
		*v = rdb.Value{Type: rdb.TypeZSet, ZSet: zs}
		return nil
	case keyspace.TypeHash:
		h := e.Coll.(*keyspace.Hash)
		hs := sc.hash[:0]
		h.Each(func(f, val []byte) bool {
			hs = append(hs, rdb.HashField{Field: f, Value: val})
			return true
		})
		sc.hash = hs
		*v = rdb.Value{Type: rdb.TypeHash, Hash: hs}
		return nil
	}
	return fmt.Errorf("persist: cannot encode type %s", e.Type.Name())
}

// keyBytes views a key as bytes for the encoder, which only reads it.
func keyBytes(k string) []byte { return unsafe.Slice(unsafe.StringData(k), len(k)) }

// SaveFile writes snap to path atomically: a temp file in the same
// directory, fsync, rename, fsync of the directory.
//
// Everything after the capture, the file's last write, fsync and rename
// included, runs inside lowprio.Run, and the fsyncs go through
// lowprio.Blocking: a blocking system call made by a goroutine holds its P
// until Go's sysmon hands the P to another thread, which takes up to 10 ms
// when sysmon has been idle, and a server with one P (pinned to one CPU, a
// 1-vCPU VM) served nobody meanwhile: measured as a 10-17 ms stall of
// every client at the end of each BGSAVE.
func SaveFile(path string, snap *keyspace.Snapshot, opt WriteOptions) (int64, error) {
	return inBackground(snap, func(lists []keyspace.SnapList, p *lowprio.Pacer) (int64, error) {
		return saveFile(path, func(w io.Writer) (int64, error) { return encodeLists(w, lists, opt, p) })
	})
}

// SaveKeyspaceFile is SaveFile for WriteKeyspace (keyspace lock held).
func SaveKeyspaceFile(path string, ks *keyspace.Keyspace, opt WriteOptions) (int64, error) {
	return saveFile(path, func(w io.Writer) (int64, error) { return WriteKeyspace(w, ks, opt) })
}

func saveFile(path string, write func(w io.Writer) (int64, error)) (int64, error) {
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, fmt.Sprintf("temp-%d-%d.rdb", os.Getpid(), time.Now().UnixNano()))
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	n, err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	// The two fsyncs and the rename between them, in one lowprio.Blocking.
	err = lowprio.Blocking(func() error {
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err == nil {
			if d, derr := os.Open(dir); derr == nil {
				d.Sync()
				d.Close()
			}
		}
		return err
	})
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// LoadStats reports what a load did.
type LoadStats struct {
	Loaded, Expired int64
	Info            *rdb.Info
}

type loader struct {
	ks      *keyspace.Keyspace
	now     int64
	stats   *LoadStats
	replica bool
	onAux   func(k, v string)
	// Keys are inserted in batches (keyspace.DB.LoadBatch) per database.
	batch   []*keyspace.Entry
	exps    []int64
	batchDB int
}

// RawHashListpacks implements rdb.ListpackHandler: small hashes keep the
// listpack read from the file as their in-memory form.
func (l *loader) RawHashListpacks() bool { return true }

func (l *loader) Aux(k, v string) error {
	if l.onAux != nil {
		l.onAux(k, v)
	}
	return nil
}
func (l *loader) ResizeDB(db int, size, _ uint64) error {
	l.flush()
	// The size is a hint from the file: cap what we trust it with, so a
	// corrupt header can't make us allocate gigabytes up front.
	if size > 1<<22 {
		size = 1 << 22
	}
	if db >= 0 && db < len(l.ks.DBs) {
		l.ks.DBs[db].Reserve(int(size))
	}
	return nil
}
func (l *loader) Entry(e *rdb.Entry) error {
	if e.DB < 0 || e.DB >= len(l.ks.DBs) {
		return fmt.Errorf("FATAL: Data file was created with a Redis server configured to handle more than %d databases. Exiting", len(l.ks.DBs))
	}
	// A master drops keys already expired; a replica keeps them and waits
	// for its master's DEL (Redis's rule).
	if e.ExpireMs != 0 && e.ExpireMs <= l.now && !l.replica {
		l.stats.Expired++
		return nil
	}
	var ent *keyspace.Entry
	if e.Value.Type == rdb.TypeString {
		ent = loadedString(e.Key, e.Value.Str)
	} else {
		var err error
		if ent, err = fromLoadedValue(string(e.Key), &e.Value); err != nil {
			return err
		}
	}
	if e.DB != l.batchDB || len(l.batch) == keyspace.LoadBatchMax {
		l.flush()
		l.batchDB = e.DB
	}
	l.batch = append(l.batch, ent)
	l.exps = append(l.exps, e.ExpireMs)
	l.stats.Loaded++
	return nil
}

// flush inserts the pending batch. Redis refuses files with duplicate
// keys; LoadBatch keeps the last value (a replica's snapshot never has
// them).
func (l *loader) flush() {
	if len(l.batch) == 0 {
		return
	}
	l.ks.DBs[l.batchDB].LoadBatch(l.batch, l.exps)
	clear(l.batch)
	l.batch, l.exps = l.batch[:0], l.exps[:0]
}

// Load reads an RDB stream into ks (lock held or not yet serving).
func Load(r io.Reader, ks *keyspace.Keyspace, replica bool, onAux func(k, v string)) (*LoadStats, error) {
	run := beginLoad(nil, replica, 0)
	defer run.end()
	// Count the bytes for INFO's loading_loaded_bytes, unless r is a
	// caller's *bufio.Reader (of which exactly the file's bytes must be
	// consumed) or has a known length (which the decoder uses).
	if _, ok := r.(*bufio.Reader); !ok {
		if _, ok := r.(interface{ Len() int }); !ok {
			r = &loadCounter{r: r, run: run}
		}
	}
	return load(r, ks, replica, onAux, run)
}

func load(r io.Reader, ks *keyspace.Keyspace, replica bool, onAux func(k, v string), run *loadRun) (*LoadStats, error) {
	st := &LoadStats{}
	aux := func(k, v string) {
		run.aux(k, v)
		if onAux != nil {
			onAux(k, v)
		}
	}
	l := &loader{ks: ks, now: time.Now().UnixMilli(), stats: st, replica: replica, onAux: aux,
		batch: make([]*keyspace.Entry, 0, keyspace.LoadBatchMax), exps: make([]int64, 0, keyspace.LoadBatchMax)}
	info, err := rdb.Load(r, l)
	l.flush()
	st.Info = info
	return st, err
}

// LoadFile loads path; a missing file is not an error (returns nil stats).
func LoadFile(path string, ks *keyspace.Keyspace, replica bool, onAux func(k, v string)) (*LoadStats, error) {
	return loadFileFor(nil, path, ks, replica, onAux)
}

// loadFileFor is LoadFile on behalf of s (nil: not known), which INFO
// persistence then reports as loading it.
func loadFileFor(s *server.Server, path string, ks *keyspace.Keyspace, replica bool, onAux func(k, v string)) (*LoadStats, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	run := beginLoad(s, replica, size)
	defer run.end()
	return load(bufio.NewReaderSize(&loadCounter{r: f, run: run}, 1<<20), ks, replica, onAux, run)
}

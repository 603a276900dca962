package persist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/rdb"
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
func WriteSnapshot(w io.Writer, snap *keyspace.Snapshot, opt WriteOptions) (int64, error) {
	enc := rdb.NewEncoder(w, rdb.Options{Compress: opt.Compress, Checksum: opt.Checksum, Thresholds: opt.Thresholds})
	if err := enc.Header(); err != nil {
		return 0, err
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
			return 0, err
		}
	}
	var ent rdb.Entry
	for dbID, list := range snap.DBs {
		if len(list) == 0 {
			continue
		}
		if err := enc.SelectDB(dbID); err != nil {
			return 0, err
		}
		expires := 0
		for _, se := range list {
			if se.Expire != 0 {
				expires++
			}
		}
		if err := enc.ResizeDB(uint64(len(list)), uint64(expires)); err != nil {
			return 0, err
		}
		for _, se := range list {
			v, err := ToRDBValue(se.E)
			if err != nil {
				return 0, err
			}
			ent = rdb.Entry{DB: dbID, Key: []byte(se.E.Key()), Value: v, ExpireMs: se.Expire, LRUIdle: -1, LFUFreq: -1}
			if err := enc.Entry(&ent); err != nil {
				return 0, err
			}
		}
	}
	if err := enc.Finish(); err != nil {
		return 0, err
	}
	return enc.Written(), nil
}

// SaveFile writes snap to path atomically: a temp file in the same
// directory, fsync, rename, fsync of the directory.
func SaveFile(path string, snap *keyspace.Snapshot, opt WriteOptions) (int64, error) {
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, fmt.Sprintf("temp-%d-%d.rdb", os.Getpid(), time.Now().UnixNano()))
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	n, err := WriteSnapshot(bw, snap, opt)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
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
}

func (l *loader) Aux(k, v string) error {
	if l.onAux != nil {
		l.onAux(k, v)
	}
	return nil
}
func (l *loader) ResizeDB(db int, size, _ uint64) error {
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
	ent, err := FromRDBValue(string(e.Key), &e.Value)
	if err != nil {
		return err
	}
	db := l.ks.DBs[e.DB]
	if !db.AddLoaded(ent) {
		// Redis refuses files with duplicate keys; keep the last value
		// (a replica's snapshot never has them).
		db.Remove(ent.Key())
		db.Add(ent)
	}
	if e.ExpireMs != 0 {
		db.SetExpire(ent, e.ExpireMs)
	}
	l.stats.Loaded++
	return nil
}

// Load reads an RDB stream into ks (lock held or not yet serving).
func Load(r io.Reader, ks *keyspace.Keyspace, replica bool, onAux func(k, v string)) (*LoadStats, error) {
	st := &LoadStats{}
	l := &loader{ks: ks, now: time.Now().UnixMilli(), stats: st, replica: replica, onAux: onAux}
	info, err := rdb.Load(r, l)
	st.Info = info
	return st, err
}

// LoadFile loads path; a missing file is not an error (returns nil stats).
func LoadFile(path string, ks *keyspace.Keyspace, replica bool, onAux func(k, v string)) (*LoadStats, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Load(bufio.NewReaderSize(f, 1<<20), ks, replica, onAux)
}

package server

import (
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/keyspace"
)

// maxmemory and eviction (Redis's evict.c).
//
// Memory figure: Go's heap in use by live and not-yet-swept objects
// (runtime/metrics, cheap to read), minus what we evicted since the last GC
// cycle (freed but not yet reclaimed, estimated per key). When maxmemory is
// set the Go memory limit is set just above it so the collector works
// harder as the dataset approaches the limit instead of letting garbage
// double the heap.
//
// Candidate choice follows Redis: sample maxmemory-samples keys per database
// into a pool of the 16 best candidates (most idle for LRU, least frequent
// for LFU, soonest to expire for volatile-ttl) and evict the best; random
// policies pick a random key. Each eviction is propagated as DEL and
// notified as "evicted".

const evictionPoolSize = 16

type evictCandidate struct {
	db    int
	key   string
	score int64 // higher = better to evict
}

type evictionState struct {
	pool         []evictCandidate
	freedSinceGC int64
	lastGC       uint64
	samples      []metrics.Sample
	limitSet     int64
}

func init() {
	DenyOOM = func(s *Server, c *Client, cmd *commands.Command) string {
		if s.maxMemory <= 0 {
			return ""
		}
		if !s.performEvictions() {
			return "OOM command not allowed when used memory > 'maxmemory'."
		}
		return ""
	}
	UsedMemory = func(s *Server) int64 { return s.usedMemory() }
	CronHooks = append(CronHooks, func(s *Server) {
		if s.maxMemory > 0 {
			s.performEvictions()
		}
	})
}

func (s *Server) readMemMetrics() (heap int64, gcs uint64) {
	ev := &s.evict
	if ev.samples == nil {
		ev.samples = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	}
	metrics.Read(ev.samples)
	if ev.samples[0].Value.Kind() == metrics.KindUint64 {
		heap = int64(ev.samples[0].Value.Uint64())
	}
	if ev.samples[1].Value.Kind() == metrics.KindUint64 {
		gcs = ev.samples[1].Value.Uint64()
	}
	return
}

// usedMemory is the figure INFO, MEMORY STATS and maxmemory use.
func (s *Server) usedMemory() int64 {
	heap, gcs := s.readMemMetrics()
	ev := &s.evict
	if gcs != ev.lastGC {
		ev.lastGC = gcs
		ev.freedSinceGC = 0
	}
	used := heap - ev.freedSinceGC
	if used < 0 {
		used = 0
	}
	return used
}

func (s *Server) applyMemoryLimit() {
	max := s.maxMemory
	if max == s.evict.limitSet {
		return
	}
	s.evict.limitSet = max
	if max <= 0 {
		debug.SetMemoryLimit(1<<63 - 1)
		return
	}
	// Headroom above maxmemory for buffers and garbage in flight.
	debug.SetMemoryLimit(max + max/8 + 4<<20)
}

func (s *Server) evictionPolicy() string { return strings.ToLower(s.Cfg.String("maxmemory-policy")) }

// syncEvictionMode keeps the keyspace's access stamping in line with the policy.
func (s *Server) syncEvictionMode() {
	p := s.evictionPolicy()
	s.ks.Evict.LFU = strings.HasSuffix(p, "-lfu")
	s.ks.Evict.LogFactor = s.Cfg.Int("lfu-log-factor")
	s.ks.Evict.DecayTime = s.Cfg.Int("lfu-decay-time")
	s.ks.Evict.MinutesNow = func() uint32 { return uint32(s.nowMs / 60000) }
}

// performEvictions frees memory until under maxmemory (lock held). It
// returns false when it can't (noeviction, or nothing evictable).
func (s *Server) performEvictions() bool {
	max := s.maxMemory
	if max <= 0 {
		return true
	}
	s.applyMemoryLimit()
	used := s.usedMemory()
	if used <= max {
		return true
	}
	policy := s.evictionPolicy()
	if policy == "noeviction" {
		return false
	}
	// Replicas don't evict by themselves (their master's DELs do it), as
	// Redis with replica-ignore-maxmemory yes.
	if s.IsReplica != nil && s.IsReplica() && s.Cfg.Bool("replica-ignore-maxmemory") {
		return true
	}
	start := time.Now()
	samples := int(s.Cfg.Int("maxmemory-samples"))
	if samples <= 0 {
		samples = 5
	}
	volatile := strings.HasPrefix(policy, "volatile-")
	for used > max {
		var victim *keyspace.Entry
		var vdb *keyspace.DB
		switch policy {
		case "allkeys-random", "volatile-random":
			for i := 0; i < len(s.ks.DBs) && victim == nil; i++ {
				db := s.ks.DBs[(int(s.ks.Rnd.Uint64N(uint64(len(s.ks.DBs))))+i)%len(s.ks.DBs)]
				if volatile {
					victim = db.SampleVolatile()
				} else {
					victim = db.SampleAny()
				}
				vdb = db
			}
		default:
			vdb, victim = s.poolCandidate(policy, volatile, samples)
		}
		if victim == nil {
			return false
		}
		key := victim.Key()
		freed := EntryMemUsage(victim)
		vdb.Remove(key)
		s.evict.freedSinceGC += freed
		used -= freed
		s.stats.evictedKeys++
		k := []byte(key)
		s.SignalModifiedKey(vdb.ID, k)
		s.Notify(commands.NotifyEvicted, "evicted", k, vdb.ID)
		s.propagate(vdb.ID, [][]byte{[]byte("DEL"), k})
		// Bound the time spent in one call (Redis: ~500us chunks); the
		// cron keeps going. Past 5% over the limit keep evicting whatever
		// it costs: the limit must hold even when writers outpace us.
		if used <= max+max/20 && time.Since(start) > 5*time.Millisecond {
			break
		}
	}
	return used <= max || policy != "noeviction"
}

// poolCandidate refreshes the eviction pool with samples from every DB and
// pops the best live candidate.
func (s *Server) poolCandidate(policy string, volatile bool, samples int) (*keyspace.DB, *keyspace.Entry) {
	ev := &s.evict
	for _, db := range s.ks.DBs {
		if volatile && db.ExpiresLen() == 0 || db.Len() == 0 {
			continue
		}
		for i := 0; i < samples; i++ {
			var e *keyspace.Entry
			if volatile {
				e = db.SampleVolatile()
			} else {
				e = db.SampleAny()
			}
			if e == nil {
				break
			}
			var score int64
			switch policy {
			case "allkeys-lru", "volatile-lru":
				score = s.ks.IdleUnits(e)
			case "allkeys-lfu", "volatile-lfu":
				score = 255 - int64(s.ks.LFUDecayed(e))
			case "volatile-ttl":
				score = 1<<62 - e.Expire()
			}
			ev.insert(evictCandidate{db: db.ID, key: e.Key(), score: score})
		}
	}
	for len(ev.pool) > 0 {
		c := ev.pool[len(ev.pool)-1]
		ev.pool = ev.pool[:len(ev.pool)-1]
		db := s.ks.DBs[c.db]
		if e := db.Raw(c.key); e != nil {
			if volatile && e.Expire() == 0 {
				continue
			}
			return db, e
		}
	}
	return nil, nil
}

// insert keeps the pool sorted by score ascending (best at the end), at
// most evictionPoolSize entries, no duplicates.
func (ev *evictionState) insert(c evictCandidate) {
	for i, x := range ev.pool {
		if x.db == c.db && x.key == c.key {
			ev.pool[i].score = c.score
			return
		}
	}
	if len(ev.pool) >= evictionPoolSize && c.score <= ev.pool[0].score {
		return
	}
	i := 0
	for i < len(ev.pool) && ev.pool[i].score < c.score {
		i++
	}
	ev.pool = append(ev.pool, evictCandidate{})
	copy(ev.pool[i+1:], ev.pool[i:])
	ev.pool[i] = c
	if len(ev.pool) > evictionPoolSize {
		ev.pool = ev.pool[1:]
	}
}

var _ = fmt.Sprint

package keyspace

// Access stamps for eviction. With an LRU policy Entry.LRU holds a 24-bit
// clock in seconds; with an LFU policy it holds Redis's layout: the high 16
// bits are the last decrement time in minutes, the low 8 bits a logarithmic
// access counter (incremented with probability 1/(counter*factor+1), halved
// ... decremented by one per decay period).

// LFUInit is the counter of a new key, so new keys aren't evicted at once.
const LFUInit = 5

// EvictionMode selects how accesses are recorded.
type EvictionMode struct {
	LFU        bool
	LogFactor  int64 // lfu-log-factor
	DecayTime  int64 // lfu-decay-time (minutes)
	MinutesNow func() uint32
}

func (ks *Keyspace) stampNew(e *Entry) {
	e.gen = ks.gen // born after any capture in progress: not part of it
	if ks.Evict.LFU {
		e.setClock((ks.minutes() << 8) | LFUInit)
		return
	}
	e.setClock(ks.LRUClock())
}

func (ks *Keyspace) minutes() uint32 {
	if ks.Evict.MinutesNow == nil {
		return 0
	}
	return ks.Evict.MinutesNow() & 0xffff
}

// stampAccess records an access to e.
func (ks *Keyspace) stampAccess(e *Entry) {
	if !ks.Evict.LFU {
		e.setClock(ks.LRUClock())
		return
	}
	c := ks.LFUDecayed(e)
	// Logarithmic increment.
	if c < 255 {
		base := float64(int64(c) - LFUInit)
		if base < 0 {
			base = 0
		}
		p := 1.0 / (base*float64(ks.Evict.LogFactor) + 1)
		if ks.Rnd.Float64() < p {
			c++
		}
	}
	e.setClock((ks.minutes() << 8) | uint32(c))
}

// LFUDecayed returns e's counter after applying the decay since its last
// decrement (without storing it).
func (ks *Keyspace) LFUDecayed(e *Entry) uint8 {
	c := uint8(e.LRU & 0xff)
	if ks.Evict.DecayTime <= 0 {
		return c
	}
	last := (e.Clock() >> 8) & 0xffff
	now := ks.minutes()
	var elapsed uint32
	if now >= last {
		elapsed = now - last
	} else {
		elapsed = 65535 - last + now
	}
	periods := int64(elapsed) / ks.Evict.DecayTime
	if periods >= int64(c) {
		return 0
	}
	return c - uint8(periods)
}

// LRUUnitMs is the resolution of the LRU clock. Redis uses one second;
// vigil uses 100 ms (the 24-bit clock then wraps after 19 days instead of
// 194) so eviction can tell apart keys touched within the same second, which
// matters when a cache turns over in a few seconds.
const LRUUnitMs = 100

// IdleUnits returns e's LRU idle time in clock units (eviction scoring).
func (ks *Keyspace) IdleUnits(e *Entry) int64 {
	now := int64(ks.LRUClock())
	v := int64(e.Clock())
	if now >= v {
		return now - v
	}
	return now + (1 << 24) - v
}

// IdleSeconds returns the LRU idle time of e in seconds (OBJECT IDLETIME).
func (ks *Keyspace) IdleSeconds(e *Entry) int64 {
	return ks.IdleUnits(e) * LRUUnitMs / 1000
}

// ClockForIdle returns the LRU stamp of a key idle for idle seconds
// (RESTORE IDLETIME, the RDB IDLE opcode).
func (ks *Keyspace) ClockForIdle(idle int64) uint32 {
	v := int64(ks.LRUClock()) - idle*1000/LRUUnitMs
	v %= 1 << 24
	if v < 0 {
		v += 1 << 24
	}
	return uint32(v)
}

// SetClock sets e's LRU/LFU stamp, keeping its flags.
func (e *Entry) SetClock(v uint32) { e.setClock(v) }

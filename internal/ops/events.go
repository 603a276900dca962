package ops

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Event is one Sentinel event (+sdown, +switch-master, ...) received
// through PSUBSCRIBE *.
type Event struct {
	Time     time.Time `json:"time"`
	Sentinel string    `json:"sentinel"`
	Channel  string    `json:"event"`
	Message  string    `json:"message"`
}

// String renders an event as one line.
func (e Event) String() string {
	return e.Time.Format("15:04:05.000") + " " + e.Sentinel + " " + e.Channel + " " + e.Message
}

// streamEvents subscribes to every Sentinel and sends their events to ch
// until ctx ends, reconnecting (once a second) to Sentinels that go away.
func streamEvents(ctx context.Context, t Target, ch chan<- Event) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, m := range t.Sentinels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				subscribeOnce(ctx, m, t, ch)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	return &wg
}

func subscribeOnce(ctx context.Context, m Member, t Target, ch chan<- Event) {
	timeout := t.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	c, err := dial(m.Addr, t.SentinelPassword, timeout)
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	if v, err := c.do("PSUBSCRIBE", "*"); err != nil || v.Err() != nil {
		return
	}
	c.conn.SetDeadline(time.Time{})
	for {
		v, err := c.rr.Read()
		if err != nil {
			return
		}
		if len(v.Elems) != 4 || !strings.EqualFold(string(v.Elems[0].Str), "pmessage") {
			continue
		}
		channel := string(v.Elems[2].Str)
		if strings.HasPrefix(channel, "__sentinel__:") {
			continue
		}
		select {
		case ch <- Event{Time: time.Now(), Sentinel: m.Name, Channel: channel, Message: string(v.Elems[3].Str)}:
		case <-ctx.Done():
			return
		}
	}
}

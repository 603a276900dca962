package ops

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
)

// client is a minimal RESP client for operator commands: one connection,
// one request at a time, a deadline on every call.
type client struct {
	addr    string
	conn    net.Conn
	rr      *resp.ReplyReader
	timeout time.Duration
}

// dial connects to addr and authenticates when password is set.
func dial(addr, password string, timeout time.Duration) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &client{addr: addr, conn: conn, rr: resp.NewReplyReader(bufio.NewReader(conn)), timeout: timeout}
	if password != "" {
		v, err := c.do("AUTH", password)
		if err == nil {
			err = v.Err()
		}
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return c, nil
}

func (c *client) Close() error { return c.conn.Close() }

// do sends one command and reads its reply. An error reply is a Value
// with Type '-', not a Go error.
func (c *client) do(args ...string) (resp.Value, error) {
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.conn.Write(resp.AppendCommand(nil, args...)); err != nil {
		return resp.Value{}, err
	}
	return c.rr.Read()
}

// str runs a command expecting a string-ish reply; error replies become
// Go errors.
func (c *client) str(args ...string) (string, error) {
	v, err := c.do(args...)
	if err != nil {
		return "", err
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	return string(v.Str), nil
}

// fields turns a flat key/value array (or a RESP3 map) into a map.
func fields(v resp.Value) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(v.Elems); i += 2 {
		m[string(v.Elems[i].Str)] = valueText(v.Elems[i+1])
	}
	return m
}

func valueText(v resp.Value) string {
	if v.Type == ':' {
		return strconv.FormatInt(v.Int, 10)
	}
	return string(v.Str)
}

// parseInfo splits an INFO reply into field → value.
func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || l[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// kv parses "ip=127.0.0.1,port=7001,state=online" (INFO's slaveN lines).
func kv(s string) map[string]string {
	m := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(p, "="); ok {
			m[k] = v
		}
	}
	return m
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}

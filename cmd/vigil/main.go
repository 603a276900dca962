// Command vigil is one binary for a Redis-compatible data server, its
// Sentinel, and the operator's tools. Invoked as redis-server or
// redis-sentinel (through a link) it behaves as `vigil server` or
// `vigil sentinel`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigil-kv/vigil/internal/app"
	_ "github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/ops"
)

const usage = `vigil — a Redis-compatible, self-healing key-value store

Usage:
  vigil server [redis.conf] [--directive value ...]   run a data server (drop-in for redis-server)
  vigil sentinel sentinel.conf [--directive value ...] run a Sentinel (drop-in for redis-sentinel)
  vigil up [--replicas 2] [--sentinels 3] [--dir DIR]  run the whole topology locally on 127.0.0.1
  vigil status [--sentinel host:port ...] [--watch]    show nodes, Sentinels and their agreement
  vigil plan TOPOLOGY.yaml --out DIR                   write a deployment bundle (configs, units, ufw)
  vigil drill [--scenario kill|stop|partition]         measure a failover under a write load
  vigil switchover [--to host:port]                    planned failover without losing a write
  vigil version                                        print the version

Run 'vigil <command> --help' for details.
`

func main() {
	os.Exit(run(os.Args))
}

func run(argv []string) int {
	switch filepath.Base(argv[0]) {
	case "redis-server":
		return app.RunServer(argv[1:])
	case "redis-sentinel":
		return app.RunSentinel(argv[1:])
	}
	if len(argv) < 2 {
		fmt.Print(usage)
		return 2
	}
	switch argv[1] {
	case "server":
		return app.RunServer(argv[2:])
	case "sentinel":
		return app.RunSentinel(argv[2:])
	case "up":
		return ops.Up(argv[2:])
	case "status":
		return ops.Status(argv[2:])
	case "plan":
		return ops.Plan(argv[2:])
	case "drill":
		return ops.Drill(argv[2:])
	case "switchover":
		return ops.Switchover(argv[2:])
	case "version", "--version", "-v":
		fmt.Println(app.VersionLine())
		return 0
	case "help", "--help", "-h":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "vigil: unknown command %q\n\n%s", argv[1], usage)
	return 2
}

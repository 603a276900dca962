package app

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/sentinel"
	"github.com/vigil-kv/vigil/internal/server"
)

func init() { RunSentinelWithConfig = runSentinel }

// runSentinel is `vigil sentinel sentinel.conf` once the config is loaded:
// redis-sentinel's start-up checks and log lines, the server in sentinel
// mode (port 26379 by default, role char X) and the Sentinel driver.
func runSentinel(cfg *config.Config, p ParsedArgs) int {
	if p.Stdin && p.ConfigFile == "" {
		fmt.Fprintln(os.Stderr, "Sentinel config from STDIN not allowed.")
		fmt.Fprintln(os.Stderr, "Sentinel needs config file on disk to save state.  Exiting...")
		return 1
	}
	st, err := sentinel.ParseState(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		return 1
	}
	if cfg.Bool("daemonize") {
		parent, err := daemonize()
		if err != nil {
			fmt.Fprintf(os.Stderr, "daemonize: %v\n", err)
			return 1
		}
		if parent {
			return 0
		}
	}
	logH, out, err := openLog(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logH.SetRole('X')
	log := slog.New(logH)
	startupBanner(log, cfg, "sentinel")
	if cfg.File() == "" {
		log.Warn("Sentinel needs config file on disk to save state. Exiting...")
		return 1
	}
	if err := syscall.Access(cfg.File(), 2 /* W_OK */); err != nil {
		log.Warn(fmt.Sprintf("Sentinel config file %s is not writable: %s. Exiting...", cfg.File(), capitalize(errnoString(err))))
		return 1
	}
	// A sentinel has no dataset: no RDB/AOF saves, no replication cron.
	server.ShutdownHooks = nil
	server.CronHooks = nil
	srv := server.New(cfg, logH)
	if err := srv.ChdirDataDir(); err != nil {
		log.Warn(err.Error())
		return 1
	}
	if err := srv.Listen(); err != nil {
		return 1
	}
	if cfg.Bool("always-show-logo") {
		logo(out, "sentinel", srv.Port(), os.Getpid())
	} else {
		log.Info(fmt.Sprintf("Running mode=sentinel, port=%d.", srv.Port()))
	}
	srv.WritePidfile()
	s := sentinel.New(srv, st)
	server.ShutdownHooks = append(server.ShutdownHooks, func(*server.Server, bool, bool) error {
		s.ShutdownFlush()
		return nil
	})
	s.Start()
	go handleSignals(srv)
	srv.Serve()
	return 0
}

func errnoString(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en.Error()
	}
	return err.Error()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

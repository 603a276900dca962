// Package app wires vigil's parts into the programs the binary runs:
// `vigil server` (a drop-in for redis-server) and `vigil sentinel`. It owns
// process concerns (argument parsing as redis-server does it, daemonizing,
// pidfile, logfile, signals) so the server package stays about serving.
package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/logging"
	"github.com/vigil-kv/vigil/internal/persist"
	"github.com/vigil-kv/vigil/internal/replication"
	"github.com/vigil-kv/vigil/internal/server"
)

const daemonEnv = "VIGIL_DAEMONIZED"

// ServerUsage is printed by --help, modelled on redis-server's.
const ServerUsage = `Usage: vigil server [/path/to/redis.conf] [options] [-]
       vigil server - (read config from stdin)
       vigil server -v or --version
       vigil server -h or --help
       vigil server --test-memory <megabytes>
       vigil server --check-system

Examples:
       vigil server (run the server with default config)
       vigil server /etc/redis/6379.conf
       vigil server --port 7777
       vigil server --port 7777 --replicaof 127.0.0.1 8888
       vigil server /etc/myredis.conf --loglevel verbose -
       vigil server /etc/myredis.conf --loglevel verbose
       vigil server --test-config /etc/myredis.conf   (check the file and exit)

Sentinel mode:
       vigil sentinel /etc/sentinel.conf
       vigil server /etc/sentinel.conf --sentinel
`

// VersionLine is what --version prints (redis-server's shape, tools parse "v=").
func VersionLine() string {
	return fmt.Sprintf("Redis server v=%s sha=00000000:0 malloc=go bits=64 build=vigil-%s", server.Version, server.VigilVersion)
}

// ParsedArgs is redis-server's command line split into its parts.
type ParsedArgs struct {
	ConfigFile string
	Stdin      bool
	Overrides  []string
	Sentinel   bool
	TestConfig bool
}

// ParseServerArgs parses `[config] [--opt val ...] [-]` like redis-server.
func ParseServerArgs(args []string) (ParsedArgs, error) {
	var p ParsedArgs
	i := 0
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--sentinel":
			p.Sentinel = true
		case a == "--test-config":
			p.TestConfig = true
		case a == "-":
			p.Stdin = true
		case strings.HasPrefix(a, "--"):
			p.Overrides = append(p.Overrides, args[i:]...)
			// Strip our own flags from overrides.
			var ov []string
			for _, o := range p.Overrides {
				switch o {
				case "--sentinel":
					p.Sentinel = true
				case "--test-config":
					p.TestConfig = true
				default:
					ov = append(ov, o)
				}
			}
			if n := len(ov); n > 0 && ov[n-1] == "-" {
				p.Stdin = true
				ov = ov[:n-1]
			}
			p.Overrides = ov
			return p, nil
		default:
			if p.ConfigFile != "" {
				return p, fmt.Errorf("unexpected argument %q", a)
			}
			p.ConfigFile = a
		}
		i++
	}
	return p, nil
}

// LoadConfig builds the config from file, stdin and overrides.
func LoadConfig(p ParsedArgs, stdin io.Reader) (*config.Config, error) {
	var cfg *config.Config
	if p.Sentinel {
		cfg = config.NewSentinel()
	} else {
		cfg = config.NewServer()
	}
	if p.ConfigFile != "" {
		if err := cfg.LoadFile(p.ConfigFile); err != nil {
			return nil, err
		}
	}
	if p.Stdin {
		if err := cfg.LoadReader("stdin", stdin); err != nil {
			return nil, err
		}
	}
	if len(p.Overrides) > 0 {
		if err := cfg.ApplyArgs(p.Overrides); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// RunServer runs `vigil server ...` and returns the exit code.
func RunServer(args []string) int {
	for _, a := range args {
		switch a {
		case "-v", "--version":
			fmt.Println(VersionLine())
			return 0
		case "-h", "--help":
			fmt.Print(ServerUsage)
			return 0
		}
	}
	p, err := ParseServerArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprint(os.Stderr, ServerUsage)
		return 1
	}
	cfg, err := LoadConfig(p, os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		var le *config.LoadError
		if errors.As(err, &le) && le.File != "" {
			fmt.Fprintf(os.Stderr, "(%s)\n", le.Where())
		}
		return 1
	}
	if p.TestConfig {
		fmt.Println("Configuration OK")
		return 0
	}
	if p.Sentinel {
		return RunSentinelWithConfig(cfg, p)
	}
	return runServer(cfg, p)
}

// daemonize re-executes the binary detached (Go can't fork safely); the
// parent exits at once like redis-server's.
func daemonize() (bool, error) {
	if os.Getenv(daemonEnv) == "1" {
		return false, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return false, err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, err
	}
	return true, nil
}

func openLog(cfg *config.Config) (*logging.Handler, io.Writer, error) {
	var out io.Writer = os.Stdout
	if lf := cfg.String("logfile"); lf != "" {
		f, err := os.OpenFile(lf, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("Can't open the log file: %v", err)
		}
		out = f
	} else if cfg.Bool("daemonize") {
		out = io.Discard
	}
	return logging.New(out, logging.ParseLevel(cfg.String("loglevel"))), out, nil
}

func startupBanner(log *slog.Logger, cfg *config.Config, mode string) {
	log.Warn("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
	log.Warn(fmt.Sprintf("Redis version=%s, bits=64, commit=00000000, modified=0, pid=%d, just started (vigil %s)", server.Version, os.Getpid(), server.VigilVersion))
	if cfg.File() == "" {
		log.Warn("Warning: no config file specified, using the default config. In order to specify a config file use vigil server /path/to/redis.conf")
	} else {
		log.Warn("Configuration loaded")
	}
	for _, name := range cfg.NoEffectSet() {
		log.Info(fmt.Sprintf("%s has no effect in vigil (accepted for compatibility)", name))
	}
}

func logo(out io.Writer, mode string, port, pid int) {
	fmt.Fprintf(out, `
            _._
       _.-''__ ''-._
  _.-''    '.  '_.  ''-._           vigil %s (Redis %s compatible) 64 bit
.-'' .-'''.  '''\/    _.,_ ''-._
(    '      ,       .-'  | ',    )     Running in %s mode
|'-._'-...-' __...-.''-._|'' _.-'|     Port: %d
|    '-._   '._    /     _.-'    |     PID: %d
 '-._    '-._  '-./  _.-'    _.-'
|'-._'-._    '-.__.-'    _.-'_.-'|
|    '-._'-._        _.-'_.-'    |           https://redis.io compatible
 '-._    '-._'-.__.-'_.-'    _.-'
|'-._'-._    '-.__.-'    _.-'_.-'|
|    '-._'-._        _.-'_.-'    |
 '-._    '-._'-.__.-'_.-'    _.-'
     '-._    '-.__.-'    _.-'
         '-._        _.-'
             '-.__.-'

`, server.VigilVersion, server.Version, mode, port, pid)
}

func runServer(cfg *config.Config, p ParsedArgs) int {
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
	log := slog.New(logH)
	startupBanner(log, cfg, "standalone")
	srv := server.New(cfg, logH)
	if err := srv.ChdirDataDir(); err != nil {
		log.Warn(err.Error())
		return 1
	}
	logH.SetRole('M')
	if err := srv.Listen(); err != nil {
		return 1
	}
	if cfg.Bool("always-show-logo") {
		logo(out, "standalone", srv.Port(), os.Getpid())
	} else {
		log.Info(fmt.Sprintf("Running mode=standalone, port=%d.", srv.Port()))
	}
	srv.WritePidfile()
	log.Warn("Server initialized")
	srv.SetLoading(true)
	replication.Install(srv)
	// VIGIL_CPUPROFILE=path records a CPU profile from before the
	// start-up load until shutdown (for performance work; see
	// docs/performance.md).
	if path := os.Getenv("VIGIL_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	// Serve while the RDB file loads, as Redis does: commands without the
	// loading flag get -LOADING, INFO reports the progress. (An AOF is
	// still loaded before serving: its loader installs its hooks without
	// the server lock.)
	served := make(chan struct{})
	serve := func() { go func() { srv.Serve(); close(served) }() }
	aof := cfg.Bool("appendonly")
	loaded := make(chan struct{})
	if !aof {
		serve()
		// SHUTDOWN while loading (allowed, without the final save, as in
		// Redis) exits at once rather than after the load.
		go func() {
			select {
			case <-srv.Done():
				os.Exit(0)
			case <-loaded:
			}
		}()
	}
	err = persist.Start(srv)
	close(loaded)
	if err != nil {
		return 1
	}
	if aof {
		serve()
	}
	if err := replication.Start(srv); err != nil {
		log.Warn(err.Error())
		return 1
	}
	for _, h := range StartHooks {
		if err := h(srv); err != nil {
			log.Warn(err.Error())
			return 1
		}
	}
	srv.SetLoading(false)
	log.Info("Ready to accept connections tcp")
	if cfg.String("unixsocket") != "" {
		log.Info("Ready to accept connections unix")
	}
	go handleSignals(srv)
	<-served
	return 0
}

// StartHooks run after the dataset is loaded, before the loading flag is
// cleared (clients connected meanwhile get -LOADING). An error aborts
// start-up.
var StartHooks []func(s *server.Server) error

func handleSignals(srv *server.Server) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	for sig := range ch {
		name := "SIGTERM"
		if sig == syscall.SIGINT {
			name = "SIGINT"
		}
		srv.Log.Warn(fmt.Sprintf("Received %s scheduling shutdown...", name))
		srv.Lock()
		err := srv.Shutdown(false, false, false)
		srv.Unlock()
		if err != nil {
			// Redis keeps running if the final save fails, unless a second
			// signal arrives.
			continue
		}
		return
	}
	_ = time.Second
}

package config

import "math"

// Kind is the value type of a directive.
type Kind int

const (
	Bool    Kind = iota // yes/no (case-insensitive)
	Int                 // strict decimal integer (no '+', no leading zeros)
	Memory              // bytes with optional unit b, k, kb, m, mb, g, gb
	String              // one free-form argument
	Enum                // one of Directive.Enum (case-insensitive)
	Special             // own parser/formatter (save, bind, client-output-buffer-limit, ...)
)

func (k Kind) String() string {
	switch k {
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Memory:
		return "memory"
	case String:
		return "string"
	case Enum:
		return "enum"
	}
	return "special"
}

// Directive describes one configuration directive.
type Directive struct {
	Name      string
	Aliases   []string
	Kind      Kind
	Default   string // as CONFIG GET prints it
	Mutable   bool   // CONFIG SET allowed
	Protected bool   // CONFIG SET needs enable-protected-configs (dir, dbfilename)
	Min, Max  int64
	Enum      []string
	NoEffect  bool // accepted, but vigil does not implement it yet
	Multi     bool // may appear several times and accumulates
	Sensitive bool // never log the value
	Hidden    bool // not listed by CONFIG GET / not settable (include, rename-command, user, loadmodule)
	Validate  func(args []string) error

	// special handling (Kind == Special or extra behaviour)
	parse    func(c *Config, cur value, args []string, loading bool) (value, error)
	format   func(v value) string                // CONFIG GET text
	rewrite  func(name string, v value) []rwLine // CONFIG REWRITE lines; nil = generic
	percent  bool                                // memory or N% (maxmemory-clients)
	octal    bool                                // unixsocketperm
	multiArg bool                                // enum taking several words (shutdown-on-sig*)
	index    int
}

type dflag int

const (
	mut    dflag = 1 << iota // mutable
	prot                     // protected
	noeff                    // NoEffect
	sens                     // Sensitive
	hidden                   // not in CONFIG GET
	multi
)

func mk(name string, k Kind, def string, f dflag, aliases []string) *Directive {
	return &Directive{
		Name: name, Kind: k, Default: def, Aliases: aliases,
		Mutable: f&mut != 0, Protected: f&prot != 0, NoEffect: f&noeff != 0,
		Sensitive: f&sens != 0, Hidden: f&hidden != 0, Multi: f&multi != 0,
	}
}

func dBool(name, def string, f dflag, aliases ...string) *Directive {
	return mk(name, Bool, def, f, aliases)
}

func dInt(name, def string, min, max int64, f dflag, aliases ...string) *Directive {
	d := mk(name, Int, def, f, aliases)
	d.Min, d.Max = min, max
	return d
}

func dMem(name, def string, min, max int64, f dflag, aliases ...string) *Directive {
	d := mk(name, Memory, def, f, aliases)
	d.Min, d.Max = min, max
	return d
}

func dStr(name, def string, f dflag, aliases ...string) *Directive {
	return mk(name, String, def, f, aliases)
}

func dEnum(name, def string, enum []string, f dflag, aliases ...string) *Directive {
	d := mk(name, Enum, def, f, aliases)
	d.Enum = enum
	return d
}

func dSpecial(name, def string, f dflag, parse func(*Config, value, []string, bool) (value, error), format func(value) string, rewrite func(string, value) []rwLine, aliases ...string) *Directive {
	d := mk(name, Special, def, f, aliases)
	d.parse, d.format, d.rewrite = parse, format, rewrite
	return d
}

const (
	i32 = math.MaxInt32
	u32 = math.MaxUint32
	i64 = math.MaxInt64
)

var (
	yesNoLocal   = []string{"no", "yes", "local"}
	shutdownEnum = []string{"default", "save", "nosave", "now", "force"}
)

// serverTable returns a fresh copy of the redis-server 7.0 directive table
// (plus vigil-* directives).
func serverTable() []*Directive {
	t := []*Directive{
		// Hidden, multi-line directives handled by the loader.
		dSpecial("include", "", hidden|multi, nil, nil, nil),
		dSpecial("rename-command", "", hidden|multi, nil, nil, nil),
		dSpecial("user", "", hidden|multi|noeff, nil, nil, nil),
		dSpecial("loadmodule", "", hidden|multi|noeff, nil, nil, nil),

		// Network.
		dSpecial("bind", "* -::*", mut, parseBind, formatList, rewriteList),
		dStr("bind-source-addr", "", mut),
		dBool("protected-mode", "yes", mut),
		dEnum("enable-protected-configs", "no", yesNoLocal, 0),
		dEnum("enable-debug-command", "no", yesNoLocal, 0),
		dEnum("enable-module-command", "no", yesNoLocal, 0),
		dInt("port", "6379", 0, 65535, mut),
		dInt("tcp-backlog", "511", 0, i32, 0),
		dStr("unixsocket", "", 0),
		dSpecial("unixsocketperm", "0", 0, parseOctal, formatOctal, nil),
		dInt("timeout", "0", 0, i32, mut),
		dInt("tcp-keepalive", "300", 0, i32, mut),
		dInt("socket-mark-id", "0", 0, u32, noeff),

		// TLS (not implemented).
		dInt("tls-port", "0", 0, 65535, mut|noeff),
		dStr("tls-cert-file", "", mut|noeff),
		dStr("tls-key-file", "", mut|noeff),
		dStr("tls-key-file-pass", "", mut|noeff|sens),
		dStr("tls-client-cert-file", "", mut|noeff),
		dStr("tls-client-key-file", "", mut|noeff),
		dStr("tls-client-key-file-pass", "", mut|noeff|sens),
		dStr("tls-dh-params-file", "", mut|noeff),
		dStr("tls-ca-cert-file", "", mut|noeff),
		dStr("tls-ca-cert-dir", "", mut|noeff),
		dEnum("tls-auth-clients", "yes", []string{"no", "yes", "optional"}, mut|noeff),
		dBool("tls-replication", "no", mut|noeff),
		dBool("tls-cluster", "no", mut|noeff),
		dStr("tls-protocols", "", mut|noeff),
		dStr("tls-ciphers", "", mut|noeff),
		dStr("tls-ciphersuites", "", mut|noeff),
		dBool("tls-prefer-server-ciphers", "no", mut|noeff),
		dBool("tls-session-caching", "yes", mut|noeff),
		dInt("tls-session-cache-size", "20480", 0, i32, mut|noeff),
		dInt("tls-session-cache-timeout", "300", 0, i32, mut|noeff),

		// General.
		dBool("daemonize", "no", 0),
		dEnum("supervised", "no", []string{"upstart", "systemd", "auto", "no"}, noeff),
		dStr("pidfile", "", 0),
		dEnum("loglevel", "notice", []string{"debug", "verbose", "notice", "warning"}, mut),
		dStr("logfile", "", 0),
		dBool("syslog-enabled", "no", noeff),
		dStr("syslog-ident", "redis", noeff),
		dEnum("syslog-facility", "local0", []string{"user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}, noeff),
		dBool("crash-log-enabled", "yes", mut|noeff),
		dBool("crash-memcheck-enabled", "yes", mut|noeff),
		dInt("databases", "16", 1, i32, 0),
		dBool("always-show-logo", "no", 0),
		dBool("set-proc-title", "yes", noeff),
		dStr("proc-title-template", "{title} {listen-addr} {server-mode}", mut|noeff),

		// Snapshotting.
		dSpecial("save", "3600 1 300 100 60 10000", mut|multi, parseSave, formatList, rewriteSave),
		dBool("stop-writes-on-bgsave-error", "yes", mut),
		dBool("rdbcompression", "yes", mut),
		dBool("rdbchecksum", "yes", 0),
		dEnum("sanitize-dump-payload", "no", []string{"no", "yes", "clients"}, mut|noeff),
		dStr("dbfilename", "dump.rdb", mut|prot),
		dBool("rdb-del-sync-files", "no", mut),
		dStr("dir", ".", mut|prot),

		// Replication.
		dSpecial("replicaof", "", 0, parseReplicaof, formatList, rewriteList, "slaveof"),
		dStr("masterauth", "", mut|sens),
		dStr("masteruser", "", mut),
		dBool("replica-serve-stale-data", "yes", mut, "slave-serve-stale-data"),
		dBool("replica-read-only", "yes", mut, "slave-read-only"),
		dBool("repl-diskless-sync", "yes", mut),
		dInt("repl-diskless-sync-delay", "5", 0, i32, mut),
		dInt("repl-diskless-sync-max-replicas", "0", 0, i32, mut),
		dEnum("repl-diskless-load", "disabled", []string{"disabled", "on-empty-db", "swapdb"}, mut),
		dInt("repl-ping-replica-period", "10", 1, i32, mut, "repl-ping-slave-period"),
		dInt("repl-timeout", "60", 1, i32, mut),
		dBool("repl-disable-tcp-nodelay", "no", mut),
		dMem("repl-backlog-size", "1048576", 1, i64, mut),
		dInt("repl-backlog-ttl", "3600", 0, i64, mut),
		dInt("replica-priority", "100", 0, i32, mut, "slave-priority"),
		dEnum("propagation-error-behavior", "ignore", []string{"ignore", "panic", "panic-on-replicas"}, mut|noeff),
		dBool("replica-ignore-disk-write-errors", "no", mut),
		dBool("replica-announced", "yes", mut),
		dInt("min-replicas-to-write", "0", 0, i32, mut, "min-slaves-to-write"),
		dInt("min-replicas-max-lag", "10", 0, i32, mut, "min-slaves-max-lag"),
		dStr("replica-announce-ip", "", mut, "slave-announce-ip"),
		dInt("replica-announce-port", "0", 0, 65535, mut, "slave-announce-port"),
		dBool("replica-lazy-flush", "no", mut, "slave-lazy-flush"),
		dBool("replica-ignore-maxmemory", "yes", mut, "slave-ignore-maxmemory"),

		// Keys tracking, security, clients.
		dInt("tracking-table-max-keys", "1000000", 0, i64, mut|noeff),
		dInt("acllog-max-len", "128", 0, i64, mut|noeff),
		dStr("aclfile", "", noeff),
		dStr("requirepass", "", mut|sens),
		dEnum("acl-pubsub-default", "resetchannels", []string{"allchannels", "resetchannels"}, mut|noeff),
		dInt("maxclients", "10000", 1, u32, mut),

		// Memory management.
		dMem("maxmemory", "0", 0, i64, mut),
		dEnum("maxmemory-policy", "noeviction", []string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"}, mut),
		dInt("maxmemory-samples", "5", 1, i32, mut),
		dInt("maxmemory-eviction-tenacity", "10", 0, 100, mut),
		dInt("active-expire-effort", "1", 1, 10, mut),

		// Lazy freeing.
		dBool("lazyfree-lazy-eviction", "no", mut),
		dBool("lazyfree-lazy-expire", "no", mut),
		dBool("lazyfree-lazy-server-del", "no", mut),
		dBool("lazyfree-lazy-user-del", "no", mut),
		dBool("lazyfree-lazy-user-flush", "no", mut),

		// Threads, kernel.
		dInt("io-threads", "1", 1, 128, noeff),
		dBool("io-threads-do-reads", "no", noeff),
		dEnum("oom-score-adj", "no", []string{"no", "yes", "relative", "absolute"}, mut|noeff),
		dSpecial("oom-score-adj-values", "0 200 800", mut|noeff, parseOOMValues, formatList, rewriteList),
		dBool("disable-thp", "yes", noeff),

		// Append only mode.
		dBool("appendonly", "no", mut),
		dStr("appendfilename", "appendonly.aof", 0),
		dStr("appenddirname", "appendonlydir", 0),
		dEnum("appendfsync", "everysec", []string{"everysec", "always", "no"}, mut),
		dBool("no-appendfsync-on-rewrite", "no", mut),
		dInt("auto-aof-rewrite-percentage", "100", 0, i32, mut),
		dMem("auto-aof-rewrite-min-size", "67108864", 0, i64, mut),
		dBool("aof-load-truncated", "yes", mut),
		dBool("aof-use-rdb-preamble", "yes", mut),
		dBool("aof-timestamp-enabled", "no", mut),
		dBool("aof-disable-auto-gc", "no", mut),
		dBool("aof-rewrite-incremental-fsync", "yes", mut),
		dBool("rdb-save-incremental-fsync", "yes", mut),

		// Shutdown, scripting.
		dInt("shutdown-timeout", "10", 0, i32, mut),
		dEnum("shutdown-on-sigint", "default", shutdownEnum, mut),
		dEnum("shutdown-on-sigterm", "default", shutdownEnum, mut),
		dInt("busy-reply-threshold", "5000", 0, i64, mut, "lua-time-limit"),

		// Cluster (not implemented).
		dBool("cluster-enabled", "no", noeff),
		dStr("cluster-config-file", "nodes.conf", noeff),
		dInt("cluster-node-timeout", "15000", 0, i64, mut|noeff),
		dInt("cluster-port", "0", 0, 65535, noeff),
		dInt("cluster-replica-validity-factor", "10", 0, i32, mut|noeff, "cluster-slave-validity-factor"),
		dInt("cluster-migration-barrier", "1", 0, i32, mut|noeff),
		dBool("cluster-allow-replica-migration", "yes", mut|noeff),
		dBool("cluster-require-full-coverage", "yes", mut|noeff),
		dBool("cluster-replica-no-failover", "no", mut|noeff, "cluster-slave-no-failover"),
		dBool("cluster-allow-reads-when-down", "no", mut|noeff),
		dBool("cluster-allow-pubsubshard-when-down", "yes", mut|noeff),
		dMem("cluster-link-sendbuf-limit", "0", 0, i64, mut|noeff),
		dStr("cluster-announce-hostname", "", mut|noeff),
		dEnum("cluster-preferred-endpoint-type", "ip", []string{"ip", "hostname", "unknown-endpoint"}, mut|noeff),
		dStr("cluster-announce-ip", "", mut|noeff),
		dInt("cluster-announce-port", "0", 0, 65535, mut|noeff),
		dInt("cluster-announce-bus-port", "0", 0, 65535, mut|noeff),
		dInt("cluster-announce-tls-port", "0", 0, 65535, mut|noeff),

		// Monitoring.
		dInt("slowlog-log-slower-than", "10000", -1, i64, mut),
		dInt("slowlog-max-len", "128", 0, i64, mut),
		dInt("latency-monitor-threshold", "0", 0, i64, mut),
		dBool("latency-tracking", "yes", mut|noeff),
		dSpecial("latency-tracking-info-percentiles", "50 99 99.9", mut|noeff, parsePercentiles, formatList, rewriteList),
		dSpecial("notify-keyspace-events", "", mut, parseNotify, formatString, rewriteQuoted),

		// Encodings (vigil does not emulate Redis's compact encodings yet).
		dInt("hash-max-listpack-entries", "512", 0, i64, mut|noeff, "hash-max-ziplist-entries"),
		dMem("hash-max-listpack-value", "64", 0, i64, mut|noeff, "hash-max-ziplist-value"),
		dInt("list-max-listpack-size", "-2", math.MinInt32, i32, mut|noeff, "list-max-ziplist-size"),
		dInt("list-compress-depth", "0", 0, i32, mut|noeff),
		dInt("set-max-intset-entries", "512", 0, i64, mut|noeff),
		dInt("zset-max-listpack-entries", "128", 0, i64, mut|noeff, "zset-max-ziplist-entries"),
		dMem("zset-max-listpack-value", "64", 0, i64, mut|noeff, "zset-max-ziplist-value"),
		dMem("hll-sparse-max-bytes", "3000", 0, i64, mut|noeff),
		dMem("stream-node-max-bytes", "4096", 0, i64, mut|noeff),
		dInt("stream-node-max-entries", "100", 0, i64, mut|noeff),
		dBool("activerehashing", "yes", mut|noeff),

		// Clients.
		dSpecial("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", mut|multi, parseCOBL, formatCOBL, rewriteCOBL),
		dMem("client-query-buffer-limit", "1073741824", 1024*1024, i64, mut),
		dMem("maxmemory-clients", "0", 0, i64, mut),
		dMem("proto-max-bulk-len", "536870912", 1024*1024, i64, mut),
		dInt("hz", "10", 0, i32, mut),
		dBool("dynamic-hz", "yes", mut|noeff),
		dInt("lfu-log-factor", "10", 0, i32, mut),
		dInt("lfu-decay-time", "1", 0, i32, mut),

		// Active defragmentation (not implemented).
		dBool("activedefrag", "no", mut|noeff),
		dMem("active-defrag-ignore-bytes", "104857600", 1, i64, mut|noeff),
		dInt("active-defrag-threshold-lower", "10", 0, 1000, mut|noeff),
		dInt("active-defrag-threshold-upper", "100", 0, 1000, mut|noeff),
		dInt("active-defrag-cycle-min", "1", 1, 99, mut|noeff),
		dInt("active-defrag-cycle-max", "25", 1, 99, mut|noeff),
		dInt("active-defrag-max-scan-fields", "1000", 1, i64, mut|noeff),
		dBool("jemalloc-bg-thread", "yes", mut|noeff),
		dStr("server_cpulist", "", noeff),
		dStr("bio_cpulist", "", noeff),
		dStr("aof_rewrite_cpulist", "", noeff),
		dStr("bgsave_cpulist", "", noeff),
		dStr("ignore-warnings", "", mut|noeff),

		// vigil-specific.
		dBool("vigil-safe-mode", "no", mut),
		dInt("vigil-min-ack-replicas", "0", 0, i32, mut),
		dInt("vigil-fence-timeout", "0", 0, i64, mut),
		dInt("vigil-confirm-timeout", "0", 0, i64, mut),
	}
	for _, d := range t {
		switch d.Name {
		case "maxmemory-clients":
			d.percent = true
		case "dbfilename", "appendfilename":
			name := d.Name
			d.Validate = func(a []string) error { return baseNameCheck(name, "filename", a) }
		case "shutdown-on-sigint", "shutdown-on-sigterm":
			d.multiArg = true
		case "appenddirname":
			d.Validate = func(a []string) error { return baseNameCheck("appenddirname", "dirname", a) }
		}
	}
	for i, d := range t {
		d.index = i
	}
	return t
}

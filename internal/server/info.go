package server

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
)

// INFO (Redis's genRedisInfoString). Field names are a compatibility
// surface: Sentinel, redis_exporter and operators parse them.

// InfoSections lets other subsystems (persistence, replication, sentinel)
// provide or replace a section. Called with mu held.
var InfoSections = map[string]func(s *Server, b *strings.Builder){}

var defaultSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"}
var allSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"}

func init() {
	commands.Register(&commands.Command{Name: "info", Arity: -1, Flags: commands.Loading | commands.Stale | commands.Sentinel, Proc: infoCommand, Group: "server", Since: "1.0.0", Categories: "@slow @dangerous"})
}

func infoCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	var want []string
	for _, a := range ctx.Args[1:] {
		want = append(want, strings.ToLower(string(a)))
	}
	ctx.W.Verbatim([]byte(s.Info(want...)))
}

// Info renders the requested sections (default when none).
func (s *Server) Info(want ...string) string {
	sel := map[string]bool{}
	order := defaultSections
	if len(want) == 0 {
		want = []string{"default"}
	}
	for _, w := range want {
		switch w {
		case "default":
			for _, x := range defaultSections {
				sel[x] = true
			}
		case "all":
			order = allSections
			for _, x := range allSections {
				if x != "modules" {
					sel[x] = true
				}
			}
		case "everything":
			order = allSections
			for _, x := range allSections {
				sel[x] = true
			}
		default:
			sel[w] = true
			order = allSections
		}
	}
	var b strings.Builder
	first := true
	for _, name := range order {
		if !sel[name] {
			continue
		}
		if !first {
			b.WriteString("\r\n")
		}
		first = false
		if fn, ok := InfoSections[name]; ok {
			fn(s, &b)
			continue
		}
		s.infoSection(name, &b)
	}
	return b.String()
}

func line(b *strings.Builder, k string, v any) {
	fmt.Fprintf(b, "%s:%v\r\n", k, v)
}

func humanBytes(n int64) string {
	f := float64(n)
	switch {
	case n < 1024:
		return fmt.Sprintf("%dB", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.2fK", f/1024)
	case n < 1024*1024*1024:
		return fmt.Sprintf("%.2fM", f/(1024*1024))
	case n < 1024*1024*1024*1024:
		return fmt.Sprintf("%.2fG", f/(1024*1024*1024))
	}
	return fmt.Sprintf("%.2fT", f/(1024*1024*1024*1024))
}

// UsedMemory is the memory figure INFO and maxmemory use. Overridden by the
// memory accounting of the eviction subsystem when installed.
var UsedMemory = func(s *Server) int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, rss int64
	fmt.Sscanf(string(data), "%d %d", &size, &rss)
	return rss * int64(os.Getpagesize())
}

func (s *Server) infoSection(name string, b *strings.Builder) {
	now := time.Now()
	switch name {
	case "server":
		b.WriteString("# Server\r\n")
		line(b, "redis_version", Version)
		line(b, "redis_git_sha1", "00000000")
		line(b, "redis_git_dirty", 0)
		line(b, "redis_build_id", "vigil-"+VigilVersion)
		mode := "standalone"
		if s.Sentinel != nil {
			mode = "sentinel"
		}
		line(b, "redis_mode", mode)
		var u syscall.Utsname
		osName := "Linux"
		if syscall.Uname(&u) == nil {
			osName = fmt.Sprintf("%s %s %s", cstr(u.Sysname[:]), cstr(u.Release[:]), cstr(u.Machine[:]))
		}
		line(b, "os", osName)
		line(b, "arch_bits", 64)
		line(b, "monotonic_clock", "POSIX clock_gettime")
		line(b, "multiplexing_api", "epoll")
		line(b, "atomicvar_api", "c11-builtin")
		line(b, "gcc_version", "0.0.0")
		line(b, "process_id", s.pid)
		line(b, "process_supervised", "no")
		line(b, "run_id", s.runID)
		line(b, "tcp_port", s.port)
		line(b, "server_time_usec", now.UnixMicro())
		up := int64(now.Sub(s.start).Seconds())
		line(b, "uptime_in_seconds", up)
		line(b, "uptime_in_days", up/86400)
		line(b, "hz", s.Cfg.Int("hz"))
		line(b, "configured_hz", s.Cfg.Int("hz"))
		line(b, "lru_clock", uint32(now.Unix())&(1<<24-1))
		exe, _ := os.Executable()
		line(b, "executable", exe)
		line(b, "config_file", s.Cfg.File())
		line(b, "io_threads_active", 0)
		line(b, "vigil_version", VigilVersion)
	case "clients":
		b.WriteString("# Clients\r\n")
		s.clientsMu.Lock()
		n := 0
		for _, c := range s.clients {
			if c.flags&flagReplica == 0 {
				n++
			}
		}
		s.clientsMu.Unlock()
		line(b, "connected_clients", n)
		line(b, "cluster_connections", 0)
		line(b, "maxclients", s.maxClients)
		line(b, "client_recent_max_input_buffer", 0)
		line(b, "client_recent_max_output_buffer", 0)
		line(b, "blocked_clients", s.blocking.count)
		line(b, "tracking_clients", 0)
		line(b, "clients_in_timeout_table", s.blocking.count)
	case "memory":
		b.WriteString("# Memory\r\n")
		used := UsedMemory(s)
		if used > s.stats.peakMemory {
			s.stats.peakMemory = used
		}
		rss := rssBytes()
		line(b, "used_memory", used)
		line(b, "used_memory_human", humanBytes(used))
		line(b, "used_memory_rss", rss)
		line(b, "used_memory_rss_human", humanBytes(rss))
		line(b, "used_memory_peak", s.stats.peakMemory)
		line(b, "used_memory_peak_human", humanBytes(s.stats.peakMemory))
		line(b, "used_memory_peak_perc", fmt.Sprintf("%.2f%%", float64(used)*100/float64(max(s.stats.peakMemory, 1))))
		line(b, "used_memory_overhead", 0)
		line(b, "used_memory_startup", 0)
		line(b, "used_memory_dataset", used)
		line(b, "used_memory_dataset_perc", "100.00%")
		var si syscall.Sysinfo_t
		total := int64(0)
		if syscall.Sysinfo(&si) == nil {
			total = int64(si.Totalram) * int64(si.Unit)
		}
		line(b, "total_system_memory", total)
		line(b, "total_system_memory_human", humanBytes(total))
		line(b, "used_memory_lua", 32768)
		line(b, "used_memory_vm_eval", 32768)
		line(b, "used_memory_lua_human", "32.00K")
		line(b, "used_memory_scripts_eval", 0)
		line(b, "number_of_cached_scripts", 0)
		line(b, "number_of_functions", 0)
		line(b, "number_of_libraries", 0)
		line(b, "maxmemory", s.Cfg.Int("maxmemory"))
		line(b, "maxmemory_human", humanBytes(s.Cfg.Int("maxmemory")))
		line(b, "maxmemory_policy", s.Cfg.String("maxmemory-policy"))
		frag := 1.0
		if used > 0 {
			frag = float64(rss) / float64(used)
		}
		line(b, "mem_fragmentation_ratio", fmt.Sprintf("%.2f", frag))
		line(b, "mem_fragmentation_bytes", rss-used)
		line(b, "mem_not_counted_for_evict", 0)
		line(b, "mem_replication_backlog", 0)
		line(b, "mem_total_replication_buffers", 0)
		line(b, "mem_clients_slaves", 0)
		line(b, "mem_clients_normal", 0)
		line(b, "mem_cluster_links", 0)
		line(b, "mem_aof_buffer", 0)
		line(b, "mem_allocator", "go-"+runtime.Version())
		line(b, "active_defrag_running", 0)
		line(b, "lazyfree_pending_objects", 0)
		line(b, "lazyfreed_objects", 0)
	case "persistence":
		b.WriteString("# Persistence\r\n")
		line(b, "loading", 0)
		line(b, "async_loading", 0)
		line(b, "current_cow_peak", 0)
		line(b, "current_cow_size", 0)
		line(b, "current_cow_size_age", 0)
		line(b, "current_fork_perc", "0.00")
		line(b, "current_save_keys_processed", 0)
		line(b, "current_save_keys_total", 0)
		line(b, "rdb_changes_since_last_save", s.stats.dirty)
		line(b, "rdb_bgsave_in_progress", 0)
		line(b, "rdb_last_save_time", s.lastSave)
		line(b, "rdb_last_bgsave_status", "ok")
		line(b, "rdb_last_bgsave_time_sec", -1)
		line(b, "rdb_current_bgsave_time_sec", -1)
		line(b, "rdb_saves", 0)
		line(b, "rdb_last_cow_size", 0)
		line(b, "rdb_last_load_keys_expired", 0)
		line(b, "rdb_last_load_keys_loaded", 0)
		line(b, "aof_enabled", 0)
		line(b, "aof_rewrite_in_progress", 0)
		line(b, "aof_rewrite_scheduled", 0)
		line(b, "aof_last_rewrite_time_sec", -1)
		line(b, "aof_current_rewrite_time_sec", -1)
		line(b, "aof_last_bgrewrite_status", "ok")
		line(b, "aof_rewrites", 0)
		line(b, "aof_rewrites_consecutive_failures", 0)
		line(b, "aof_last_write_status", "ok")
		line(b, "aof_last_cow_size", 0)
		line(b, "module_fork_in_progress", 0)
		line(b, "module_fork_last_cow_size", 0)
	case "stats":
		b.WriteString("# Stats\r\n")
		line(b, "total_connections_received", s.stats.connsReceived.Load())
		line(b, "total_commands_processed", s.stats.commands)
		line(b, "instantaneous_ops_per_sec", 0)
		line(b, "total_net_input_bytes", s.stats.netIn.Load())
		line(b, "total_net_output_bytes", s.stats.netOut.Load())
		line(b, "total_net_repl_input_bytes", 0)
		line(b, "total_net_repl_output_bytes", 0)
		line(b, "instantaneous_input_kbps", "0.00")
		line(b, "instantaneous_output_kbps", "0.00")
		line(b, "instantaneous_input_repl_kbps", "0.00")
		line(b, "instantaneous_output_repl_kbps", "0.00")
		line(b, "rejected_connections", s.stats.rejectedConns.Load())
		line(b, "sync_full", s.Stat("sync_full"))
		line(b, "sync_partial_ok", s.Stat("sync_partial_ok"))
		line(b, "sync_partial_err", s.Stat("sync_partial_err"))
		line(b, "expired_keys", s.ks.ExpiredKeys)
		line(b, "expired_stale_perc", "0.00")
		line(b, "expired_time_cap_reached_count", 0)
		line(b, "expire_cycle_cpu_milliseconds", 0)
		line(b, "evicted_keys", s.stats.evictedKeys)
		line(b, "evicted_clients", 0)
		line(b, "total_eviction_exceeded_time", 0)
		line(b, "current_eviction_exceeded_time", 0)
		line(b, "keyspace_hits", s.ks.KeyspaceHits)
		line(b, "keyspace_misses", s.ks.KeyspaceMiss)
		line(b, "pubsub_channels", len(s.pubsub.channels))
		line(b, "pubsub_patterns", len(s.pubsub.patterns))
		line(b, "pubsubshard_channels", len(s.pubsub.shard))
		line(b, "latest_fork_usec", 0)
		line(b, "total_forks", 0)
		line(b, "migrate_cached_sockets", 0)
		line(b, "slave_expires_tracked_keys", 0)
		line(b, "active_defrag_hits", 0)
		line(b, "active_defrag_misses", 0)
		line(b, "active_defrag_key_hits", 0)
		line(b, "active_defrag_key_misses", 0)
		line(b, "total_active_defrag_time", 0)
		line(b, "current_active_defrag_time", 0)
		line(b, "tracking_total_keys", 0)
		line(b, "tracking_total_items", 0)
		line(b, "tracking_total_prefixes", 0)
		line(b, "unexpected_error_replies", s.stats.unexpectedErrorReplies)
		line(b, "total_error_replies", s.stats.totalErrorReplies)
		line(b, "dump_payload_sanitizations", 0)
		line(b, "total_reads_processed", s.stats.commands)
		line(b, "total_writes_processed", s.stats.commands)
		line(b, "io_threaded_reads_processed", 0)
		line(b, "io_threaded_writes_processed", 0)
		line(b, "reply_buffer_shrinks", 0)
		line(b, "reply_buffer_expands", 0)
	case "replication":
		b.WriteString("# Replication\r\n")
		line(b, "role", "master")
		line(b, "connected_slaves", 0)
		line(b, "master_failover_state", "no-failover")
		line(b, "master_replid", s.runID)
		line(b, "master_replid2", "0000000000000000000000000000000000000000")
		line(b, "master_repl_offset", 0)
		line(b, "second_repl_offset", -1)
		line(b, "repl_backlog_active", 0)
		line(b, "repl_backlog_size", s.Cfg.Int("repl-backlog-size"))
		line(b, "repl_backlog_first_byte_offset", 0)
		line(b, "repl_backlog_histlen", 0)
	case "cpu":
		b.WriteString("# CPU\r\n")
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		sys := float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
		usr := float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
		line(b, "used_cpu_sys", fmt.Sprintf("%.6f", sys))
		line(b, "used_cpu_user", fmt.Sprintf("%.6f", usr))
		line(b, "used_cpu_sys_children", "0.000000")
		line(b, "used_cpu_user_children", "0.000000")
		line(b, "used_cpu_sys_main_thread", fmt.Sprintf("%.6f", sys))
		line(b, "used_cpu_user_main_thread", fmt.Sprintf("%.6f", usr))
	case "modules":
		b.WriteString("# Modules\r\n")
	case "commandstats":
		b.WriteString("# Commandstats\r\n")
		names := make([]string, 0, len(s.stats.cmdStats))
		for n := range s.stats.cmdStats {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			st := s.stats.cmdStats[n]
			per := 0.0
			if st.calls > 0 {
				per = float64(st.usec) / float64(st.calls)
			}
			fmt.Fprintf(b, "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d\r\n", n, st.calls, st.usec, per, st.rejected, st.failed)
		}
	case "errorstats":
		b.WriteString("# Errorstats\r\n")
		names := make([]string, 0, len(s.stats.errStats))
		for n := range s.stats.errStats {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(b, "errorstat_%s:count=%d\r\n", n, s.stats.errStats[n])
		}
	case "latencystats":
		b.WriteString("# Latencystats\r\n")
	case "cluster":
		b.WriteString("# Cluster\r\n")
		line(b, "cluster_enabled", 0)
	case "keyspace":
		b.WriteString("# Keyspace\r\n")
		for _, db := range s.ks.DBs {
			if db.Len() == 0 {
				continue
			}
			fmt.Fprintf(b, "db%d:keys=%d,expires=%d,avg_ttl=%d\r\n", db.ID, db.Len(), db.ExpiresLen(), db.AvgTTL)
		}
	}
}

func cstr(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

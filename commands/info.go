package commands

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// infoDefault are the sections of a bare INFO, in Redis 7.0's order.
var infoDefault = []string{"server", "clients", "memory", "persistence", "stats",
	"replication", "cpu", "modules", "errorstats", "cluster", "keyspace"}

// infoAll adds the sections "all" and "everything" include.
var infoAll = []string{"server", "clients", "memory", "persistence", "stats",
	"replication", "cpu", "modules", "commandstats", "errorstats", "cluster", "keyspace"}

// info implements INFO [section ...] in Redis 7.0's text format.
func info(c *Ctx) error {
	want := map[string]bool{}
	if len(c.Args) == 1 {
		for _, s := range infoDefault {
			want[s] = true
		}
	}
	for _, a := range c.Args[1:] {
		s := strings.ToLower(string(a))
		switch s {
		case "default":
			for _, x := range infoDefault {
				want[x] = true
			}
		case "all", "everything":
			for _, x := range infoAll {
				want[x] = true
			}
		default:
			want[s] = true
		}
	}
	var b strings.Builder
	for _, sec := range infoAll {
		if !want[sec] {
			continue
		}
		body, err := infoSection(c, sec)
		if err != nil {
			return err
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(body)
	}
	c.W.Verbatim(b.String())
	return nil
}

// infoLines formats a section: a header and "key:value" lines.
type infoLines struct{ b strings.Builder }

func newInfo(title string) *infoLines {
	l := &infoLines{}
	l.b.WriteString("# " + title + "\r\n")
	return l
}

func (l *infoLines) add(k string, v any) {
	fmt.Fprintf(&l.b, "%s:%v\r\n", k, v)
}

func infoSection(c *Ctx, sec string) (string, error) {
	e := c.Env
	now := time.Now()
	switch sec {
	case "server":
		l := newInfo("Server")
		uptime := int64(0)
		if !e.StartTime.IsZero() {
			uptime = int64(now.Sub(e.StartTime) / time.Second)
		}
		port, _ := e.Config.Get("port")
		hz, _ := e.Config.Get("hz")
		exe, _ := os.Executable()
		l.add("redis_version", e.version())
		l.add("redis_git_sha1", "00000000")
		l.add("redis_git_dirty", 0)
		l.add("redis_build_id", "0")
		if e.clusterMode() {
			l.add("redis_mode", "cluster")
		} else {
			l.add("redis_mode", "standalone")
		}
		l.add("os", osName())
		l.add("arch_bits", strconv.Itoa(32<<(^uint(0)>>63)))
		l.add("monotonic_clock", "POSIX clock_gettime")
		l.add("multiplexing_api", "epoll")
		l.add("atomicvar_api", "c11-builtin")
		l.add("gcc_version", "0.0.0")
		l.add("process_id", os.Getpid())
		l.add("process_supervised", "no")
		l.add("run_id", e.RunID)
		l.add("tcp_port", port)
		l.add("server_time_usec", now.UnixMicro())
		l.add("uptime_in_seconds", uptime)
		l.add("uptime_in_days", uptime/86400)
		l.add("hz", hz)
		l.add("configured_hz", hz)
		l.add("lru_clock", (now.Unix())&(1<<24-1))
		l.add("executable", exe)
		l.add("config_file", "")
		l.add("io_threads_active", 0)
		return l.b.String(), nil
	case "clients":
		l := newInfo("Clients")
		maxClients, _ := e.Config.Get("maxclients")
		l.add("connected_clients", len(c.clients()))
		l.add("cluster_connections", 0)
		l.add("maxclients", maxClients)
		l.add("client_recent_max_input_buffer", 0)
		l.add("client_recent_max_output_buffer", 0)
		l.add("blocked_clients", 0)
		l.add("tracking_clients", 0)
		l.add("clients_in_timeout_table", 0)
		return l.b.String(), nil
	case "memory":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		maxMem, _ := e.Config.Get("maxmemory")
		maxMemN, _ := strconv.ParseInt(maxMem, 10, 64)
		policy, _ := e.Config.Get("maxmemory-policy")
		used := int64(ms.HeapAlloc)
		rss := int64(ms.Sys)
		l := newInfo("Memory")
		l.add("used_memory", used)
		l.add("used_memory_human", humanBytes(used))
		l.add("used_memory_rss", rss)
		l.add("used_memory_rss_human", humanBytes(rss))
		l.add("used_memory_peak", used)
		l.add("used_memory_peak_human", humanBytes(used))
		l.add("maxmemory", maxMemN)
		l.add("maxmemory_human", humanBytes(maxMemN))
		l.add("maxmemory_policy", policy)
		l.add("mem_allocator", "go-"+runtime.Version())
		return l.b.String(), nil
	case "persistence":
		l := newInfo("Persistence")
		l.add("loading", 0)
		l.add("async_loading", 0)
		l.add("rdb_changes_since_last_save", 0)
		l.add("rdb_bgsave_in_progress", 0)
		l.add("rdb_last_save_time", e.lastSaveUnix())
		l.add("rdb_last_bgsave_status", "ok")
		l.add("aof_enabled", 1)
		l.add("aof_rewrite_in_progress", 0)
		l.add("aof_rewrite_scheduled", 0)
		l.add("aof_last_write_status", "ok")
		return l.b.String(), nil
	case "stats":
		var ss ServerStats
		if e.ServerStats != nil {
			ss = e.ServerStats()
		}
		_, errTotal := e.Stats.ErrorSnapshot()
		l := newInfo("Stats")
		l.add("total_connections_received", ss.TotalConnections)
		l.add("total_commands_processed", ss.TotalCommands)
		l.add("instantaneous_ops_per_sec", 0)
		l.add("total_net_input_bytes", ss.NetInputBytes)
		l.add("total_net_output_bytes", ss.NetOutputBytes)
		l.add("rejected_connections", ss.RejectedConns)
		l.add("expired_keys", 0)
		l.add("evicted_keys", 0)
		l.add("keyspace_hits", 0)
		l.add("keyspace_misses", 0)
		l.add("pubsub_channels", 0)
		l.add("pubsub_patterns", 0)
		l.add("total_error_replies", errTotal)
		return l.b.String(), nil
	case "replication":
		l := newInfo("Replication")
		l.add("role", "master")
		l.add("connected_slaves", 0)
		l.add("master_failover_state", "no-failover")
		l.add("master_replid", e.RunID)
		l.add("master_replid2", strings.Repeat("0", 40))
		l.add("master_repl_offset", 0)
		l.add("second_repl_offset", -1)
		l.add("repl_backlog_active", 0)
		l.add("repl_backlog_size", 1048576)
		l.add("repl_backlog_first_byte_offset", 0)
		l.add("repl_backlog_histlen", 0)
		return l.b.String(), nil
	case "cpu":
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		tv := func(t syscall.Timeval) string {
			return fmt.Sprintf("%d.%06d", t.Sec, t.Usec)
		}
		l := newInfo("CPU")
		l.add("used_cpu_sys", tv(ru.Stime))
		l.add("used_cpu_user", tv(ru.Utime))
		l.add("used_cpu_sys_children", "0.000000")
		l.add("used_cpu_user_children", "0.000000")
		return l.b.String(), nil
	case "modules":
		return "# Modules\r\n", nil
	case "commandstats":
		l := newInfo("Commandstats")
		snap := e.Stats.Snapshot()
		names := make([]string, 0, len(snap))
		for n := range snap {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			st := snap[n]
			l.add("cmdstat_"+n, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%s,rejected_calls=%d,failed_calls=%d",
				st.Calls, st.Usec, formatUsecPerCall(st.Usec, st.Calls), st.RejectedCalls, st.FailedCalls))
		}
		return l.b.String(), nil
	case "errorstats":
		l := newInfo("Errorstats")
		errs, _ := e.Stats.ErrorSnapshot()
		codes := make([]string, 0, len(errs))
		for code := range errs {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		for _, code := range codes {
			l.add("errorstat_"+code, fmt.Sprintf("count=%d", errs[code]))
		}
		return l.b.String(), nil
	case "cluster":
		l := newInfo("Cluster")
		enabled, _ := e.Config.Get("cluster-enabled")
		if enabled == "yes" || e.clusterMode() {
			l.add("cluster_enabled", 1)
		} else {
			l.add("cluster_enabled", 0)
		}
		return l.b.String(), nil
	case "keyspace":
		return keyspaceInfo(c)
	}
	return "", nil
}

// keyspaceInfo counts keys and expiries of every database in one pass
// over a linearizable snapshot of the whole keyspace.
func keyspaceInfo(c *Ctx) (string, error) {
	type dbStat struct{ keys, expires, ttlSum int64 }
	var stats [keys.MaxDB]dbStat
	err := c.Env.Store.View(c.Context(), 0, nil, func(txn keyspace.Txn) error {
		stats = [keys.MaxDB]dbStat{}
		now := txn.NowMs()
		return txn.Scan(nil, nil, false, func(k, v []byte) error {
			db, _, suffix, ok := keys.DecodeMetaKey(k)
			if !ok || len(suffix) != 0 {
				return nil
			}
			m, err := keyspace.DecodeMeta(v)
			if err != nil {
				return err
			}
			if m.ExpireAt != 0 && m.ExpireAt <= now {
				return nil
			}
			st := &stats[db]
			st.keys++
			if m.ExpireAt != 0 {
				st.expires++
				st.ttlSum += m.ExpireAt - now
			}
			return nil
		})
	})
	if err != nil {
		return "", err
	}
	l := newInfo("Keyspace")
	for db, st := range stats {
		if st.keys == 0 {
			continue
		}
		avg := int64(0)
		if st.expires > 0 {
			avg = st.ttlSum / st.expires
		}
		l.add(fmt.Sprintf("db%d", db), fmt.Sprintf("keys=%d,expires=%d,avg_ttl=%d", st.keys, st.expires, avg))
	}
	return l.b.String(), nil
}

// osName is INFO's os field, "Linux 6.1.0 x86_64" as uname prints it.
func osName() string {
	name := strings.ToUpper(runtime.GOOS[:1]) + runtime.GOOS[1:]
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		name += " " + strings.TrimSpace(string(rel))
	}
	arch := runtime.GOARCH
	switch arch {
	case "amd64":
		arch = "x86_64"
	case "arm64":
		arch = "aarch64"
	}
	return name + " " + arch
}

package commands

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterValue reads a Prometheus counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestInfoSections(t *testing.T) {
	h := newHarness(t)
	h.d.env.RunID = strings.Repeat("a", 40)
	h.d.env.StartTime = time.Now().Add(-time.Minute)
	h.expect("+OK\r\n", "SET", "a", "1")
	h.expect("+OK\r\n", "SET", "b", "1")
	h.expect(":1\r\n", "EXPIRE", "b", "100")
	h.expect("+OK\r\n", "SELECT", "3")
	h.expect("+OK\r\n", "SET", "c", "1")
	h.expect("$81\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=100000\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n\r\n", "INFO", "keyspace")
	h.expect("$0\r\n\r\n", "INFO", "nosuch")

	all := h.do("INFO")
	for _, want := range []string{"# Server\r\nredis_version:7.0.15\r\n", "redis_mode:standalone\r\n", "run_id:" + strings.Repeat("a", 40) + "\r\n",
		"uptime_in_seconds:60\r\n", "\r\n\r\n# Clients\r\nconnected_clients:1\r\n", "# Memory\r\nused_memory:", "# Persistence\r\nloading:0\r\n",
		"aof_enabled:1\r\n", "# Stats\r\n", "# Replication\r\nrole:master\r\n", "# CPU\r\nused_cpu_sys:", "# Modules\r\n",
		"# Errorstats\r\n", "# Cluster\r\ncluster_enabled:0\r\n", "# Keyspace\r\ndb0:keys=2"} {
		if !strings.Contains(all, want) {
			t.Errorf("INFO lacks %q", want)
		}
	}
	if strings.Contains(all, "# Commandstats") {
		t.Error("bare INFO must not include commandstats")
	}
	h.c.Proto = 3
	if got := h.do("INFO", "cluster"); got != "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n" {
		t.Errorf("RESP3 INFO cluster: %q", got)
	}
}

func TestCommandStatsAndErrorStats(t *testing.T) {
	h := newHarness(t)
	h.expect("+OK\r\n", "CONFIG", "RESETSTAT")
	h.d.env.Stats.Reset()
	h.expect("+OK\r\n", "SET", "a", "1")
	h.expect("$1\r\n1\r\n", "GET", "a")
	h.expect("-ERR wrong number of arguments for 'get' command\r\n", "GET")
	h.expect("-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n", "CLIENT", "foo")
	h.expect("-ERR DB index is out of range\r\n", "SELECT", "99")
	got := h.do("INFO", "commandstats", "errorstats")
	re := regexp.MustCompile(`cmdstat_get:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0\r\n`)
	if !re.MatchString(got) {
		t.Errorf("commandstats: %q", got)
	}
	for _, want := range []string{"cmdstat_select:calls=1,", ",rejected_calls=0,failed_calls=1\r\n", "cmdstat_client:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n",
		"# Errorstats\r\nerrorstat_ERR:count=3\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("INFO stats lacks %q in %q", want, got)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(h.d.env.Stats.Collectors()...)
	if n := counterValue(t, h.d.env.Stats.total.WithLabelValues("get", "ok")); n != 1 {
		t.Errorf("skerry_commands_total{get,ok} = %v", n)
	}
	if n := counterValue(t, h.d.env.Stats.total.WithLabelValues("get", "rejected")); n != 1 {
		t.Errorf("skerry_commands_total{get,rejected} = %v", n)
	}
	if n := counterValue(t, h.d.env.Stats.total.WithLabelValues("select", "error")); n != 1 {
		t.Errorf("skerry_commands_total{select,error} = %v", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, mf := range mfs {
		series[mf.GetName()] = len(mf.GetMetric())
	}
	if series["skerry_command_duration_seconds"] < 3 || series["skerry_commands_total"] < 4 {
		t.Errorf("gathered series: %v", series)
	}
	// Record allocates nothing once a command's observers are cached.
	st := h.d.env.Stats
	if a := testing.AllocsPerRun(100, func() { st.Record("get", time.Microsecond, false) }); a != 0 {
		t.Errorf("Record allocates %v per call", a)
	}
}

func TestConfigGetSet(t *testing.T) {
	h := newHarness(t)
	h.expect("*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG", "GET", "maxmemory")
	h.expect("*4\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n", "CONFIG", "GET", "append*")
	h.expect("+OK\r\n", "CONFIG", "SET", "maxmemory", "1mb", "timeout", "30")
	h.expect("*4\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n$7\r\ntimeout\r\n$2\r\n30\r\n", "CONFIG", "GET", "maxmemory", "timeout")
	h.expect("-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n", "CONFIG", "SET", "maxmemory", "0", "timeout", "x")
	h.expect("*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n", "CONFIG", "GET", "maxmemory") // nothing applied
	h.expect("+OK\r\n", "CONFIG", "SET", "requirepass", "secret")
	if h.d.env.Config.RequirePass() != "secret" {
		t.Fatal("requirepass not set")
	}
	h.c.Proto = 3
	h.expect("%1\r\n$2\r\nhz\r\n$2\r\n10\r\n", "CONFIG", "GET", "hz")
}

func TestShutdownSaveLastsave(t *testing.T) {
	h := newHarness(t)
	h.d.env.StartTime = time.Unix(1700000000, 0)
	h.expect(":1700000000\r\n", "LASTSAVE")
	h.expect("-ERR Errors trying to SHUTDOWN. Check logs.\r\n", "SHUTDOWN")
	called := 0
	h.d.env.Shutdown = func() { called++ }
	h.expect("", "SHUTDOWN", "NOSAVE", "NOW")
	if called != 1 || !h.c.CloseRequested() {
		t.Fatalf("SHUTDOWN: called %d, close %v", called, h.c.CloseRequested())
	}
	h.expect("+OK\r\n", "SAVE")
	h.expect("+Background saving started\r\n", "BGSAVE")
	if ls := h.do("LASTSAVE"); ls == ":1700000000\r\n" {
		t.Fatal("SAVE must update LASTSAVE")
	}
	got := h.do("TIME")
	if !regexp.MustCompile(`^\*2\r\n\$10\r\n\d{10}\r\n\$\d\r\n\d{1,6}\r\n$`).MatchString(got) {
		t.Fatalf("TIME: %q", got)
	}
}

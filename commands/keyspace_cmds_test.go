package commands

import (
	"strings"
	"testing"
)

// The differential cases below are the spec: each runs on Skerry and on a
// real Redis 7.0 and must produce the same bytes (skipped when
// redis-server is absent; the hand-written tests further down run always).
var connectionCases = []diffCase{
	{"ping", []string{"PING", "PING hello", "PING a b", "ECHO x", "ECHO", "echo ''"}},
	{"select", []string{"SELECT 16", "SELECT -1", "SELECT x", "SELECT 1", "SET a 1", "SELECT 0", "GET a", "SELECT 1", "GET a", "SELECT 01"}},
	{"swapdb", []string{"SET a 0", "SELECT 1", "SET b 1", "SWAPDB 0 x", "SWAPDB x 0", "SWAPDB 0 16", "SWAPDB 0 1",
		"GET a", "EXISTS b", "SELECT 0", "GET b", "EXISTS a", "SWAPDB 3 3"}},
	{"hello", []string{"HELLO 4", "HELLO x", "HELLO 3 SETNAME a\\sb", "HELLO 2 AUTH", "HELLO 2 FOO", "~HELLO 2 AUTH default x", "AUTH x", "AUTH a b", "AUTH default x"}},
	{"client", []string{"CLIENT SETNAME a\\sb", "CLIENT GETNAME", "CLIENT SETNAME ok", "CLIENT GETNAME", "CLIENT SETNAME ''", "CLIENT GETNAME",
		"CLIENT LIST ID 999 1000", "CLIENT LIST ID x", "CLIENT LIST TYPE foo", "CLIENT LIST TYPE pubsub", "CLIENT LIST foo",
		"CLIENT KILL 1.2.3.4:5", "CLIENT KILL ID 99", "CLIENT KILL ID x", "CLIENT KILL foo bar", "CLIENT KILL SKIPME x",
		"CLIENT KILL USER nosuch", "CLIENT KILL TYPE foo", "CLIENT KILL maxage 1", "CLIENT KILL 127.0.0.1:1 x",
		"CLIENT NO-EVICT maybe", "CLIENT NO-EVICT on", "CLIENT NO-EVICT off", "CLIENT foo", "CLIENT", "CLIENT HELP", "CLIENT SETNAME"}},
	{"reset", []string{"SELECT 2", "CLIENT SETNAME x", "RESET", "CLIENT GETNAME", "SET k v", "SELECT 0", "EXISTS k"}},
}

var keyCases = []diffCase{
	{"del", []string{"SET a 1", "SET b 2", "DEL a b c", "EXISTS a b", "UNLINK b", "DEL", "SET a 1", "EXISTS a a x", "TOUCH a b a"}},
	{"type", []string{"SET s v", "TYPE s", "TYPE nx"}},
	{"rename", []string{"SET a 1", "RENAME a a", "RENAME nx b", "RENAME a b", "GET a", "GET b", "EXPIRE b 100", "RENAME b c", "TTL c",
		"SET d x", "RENAMENX c d", "RENAMENX c c", "RENAMENX nx a", "RENAMENX c e", "GET e", "TTL e"}},
	{"copy", []string{"SET a 1", "COPY a a", "COPY a b DB 16", "COPY a b DB x", "COPY a b REPLACE foo", "COPY a b DB", "COPY nx b",
		"COPY a b", "GET b", "SET c 2", "COPY a c", "COPY a c REPLACE", "GET c", "COPY a a DB 1", "SELECT 1", "GET a", "SELECT 0"}},
	{"move", []string{"SET a 1", "MOVE a 0", "MOVE a 16", "MOVE a x", "MOVE nx 1", "MOVE a 1", "EXISTS a", "SELECT 1", "GET a",
		"SET b 2", "SELECT 0", "SET b 3", "MOVE b 1", "GET b"}},
	{"keys", []string{"MSET foo 1 fao 2 fbo 3 f 4 f*o 5 hello 6 hallo 7 hllo 8 h\\o 9", "#KEYS f[ab]o", "#KEYS f[^a]o", "#KEYS h?llo",
		"#KEYS h*llo", "KEYS f\\*o", "#KEYS f[a-b]o", "#KEYS f[b-a]o", "KEYS nomatch", "KEYS [", "KEYS h\\\\o", "KEYS", "KEYS a b"}},
	{"dbsize flush", []string{"MSET a 1 b 2 c 3", "DBSIZE", "SELECT 1", "SET z 1", "DBSIZE", "FLUSHDB foo", "FLUSHDB ASYNC", "DBSIZE", "SELECT 0",
		"DBSIZE", "FLUSHALL foo", "FLUSHALL SYNC", "DBSIZE", "DBSIZE x", "RANDOMKEY", "SET only 1", "RANDOMKEY"}},
	{"scan errors", []string{"SCAN x", "SCAN 0 COUNT 0", "SCAN 0 COUNT x", "SCAN 0 foo", "SCAN 0 MATCH", "SCAN 18446744073709551616", "SCAN -1", "SCAN 0 TYPE foo"}},
	{"object", []string{"SET a 1", "SET b 10000", "SET c 01", "SET d " + strings.Repeat("x", 44), "SET e " + strings.Repeat("x", 45),
		"OBJECT ENCODING a", "OBJECT ENCODING b", "OBJECT ENCODING c", "OBJECT ENCODING d", "OBJECT ENCODING e", "OBJECT ENCODING nx",
		"OBJECT REFCOUNT a", "OBJECT REFCOUNT b", "OBJECT REFCOUNT nx", "OBJECT FREQ a", "OBJECT FREQ nx", "OBJECT IDLETIME nx", "OBJECT foo", "OBJECT HELP", "OBJECT"}},
	{"expire", []string{"SET a 1", "EXPIRE a 100 nx xx", "EXPIRE a 100 gt lt", "EXPIRE a 100 foo", "EXPIRE a x foo", "EXPIRE a x",
		"EXPIRE a 9223372036854775807", "PEXPIRE a 9223372036854775807", "EXPIREAT a 9223372036854775807", "EXPIRE a -9223372036854775808",
		"TTL a", "~PTTL a", "EXPIRETIME a", "PEXPIRETIME a", "TTL nx", "PTTL nx", "EXPIRETIME nx",
		"EXPIRE a 100 XX", "EXPIRE a 100 GT", "EXPIRE a 100 LT", "EXPIRE a 100 NX", "TTL a", "EXPIRE a 100 NX", "EXPIRE a 50 GT", "EXPIRE a 200 GT", "TTL a",
		"EXPIRE a 300 LT", "EXPIRE a 100 LT", "TTL a", "PERSIST a", "PERSIST a", "TTL a", "PERSIST nx", "EXPIRE nx 10",
		"PEXPIRE a 100000", "~PTTL a", "EXPIRE a -1", "EXISTS a", "SET b 1", "EXPIREAT b 0", "EXISTS b", "SET c 1", "PEXPIREAT c 1", "EXISTS c"}},
}

func TestConnectionCommandsMatchRedis(t *testing.T) { runDiff(t, connectionCases) }
func TestKeyCommandsMatchRedis(t *testing.T)        { runDiff(t, keyCases) }

func TestServerCommandsMatchRedis(t *testing.T) {
	runDiff(t, []diffCase{
		{"config", []string{"CONFIG GET maxmemory", "CONFIG GET MAXMEMORY", "~CONFIG GET maxmemory-policy maxclients", "CONFIG GET nosuch",
			"CONFIG SET foo bar", "CONFIG SET maxmemory x", "CONFIG SET maxclients 0", "CONFIG SET", "CONFIG GET", "CONFIG RESETSTAT",
			"CONFIG SET timeout 5 timeout 6", "CONFIG SET a b c", "CONFIG SET maxmemory-policy foo", "CONFIG SET daemonize no",
			"CONFIG SET loglevel foo", "CONFIG SET proto-max-bulk-len 1", "CONFIG SET timeout -1", "CONFIG SET maxmemory 1kb",
			"CONFIG GET maxmemory", "CONFIG SET maxmemory 0", "CONFIG REWRITE", "CONFIG HELP", "CONFIG foo", "CONFIG GET timeout",
			"CONFIG SET timeout 0", "CONFIG GET tim*", "CONFIG GET requirepass"}},
		{"misc", []string{"~SAVE", "~BGSAVE", "BGSAVE foo", "SHUTDOWN foo", "SHUTDOWN ABORT", "SHUTDOWN NOSAVE SAVE", "SHUTDOWN ABORT NOW",
			"~TIME", "~LASTSAVE", "INFO foo", "SET a 1", "INFO keyspace", "DBSIZE"}},
	})
}

func TestCommandCommandMatchesRedis(t *testing.T) {
	runDiff(t, []diffCase{
		{"command", []string{"COMMAND INFO get set", "COMMAND INFO nosuch get", "COMMAND INFO client|list", "COMMAND INFO GET",
			"COMMAND DOCS get", "COMMAND DOCS nosuch", "COMMAND DOCS set expire", "COMMAND DOCS client|list",
			"COMMAND GETKEYS get", "COMMAND GETKEYS nosuch a", "COMMAND GETKEYS ping x", "COMMAND GETKEYS get a b", "COMMAND GETKEYS mset a 1 b 2",
			"COMMAND GETKEYS object encoding k", "COMMAND GETKEYS object help", "COMMAND GETKEYS client list", "COMMAND GETKEYSANDFLAGS set a b",
			"COMMAND GETKEYSANDFLAGS rename a b", "COMMAND GETKEYS copy a b", "COMMAND COUNT x", "COMMAND HELP", "COMMAND foo",
			"COMMAND LIST FILTERBY MODULE x", "COMMAND LIST FILTERBY foo x", "COMMAND LIST FILTERBY", "COMMAND LIST FILTERBY ACLCAT nosuch", "COMMAND LIST foo"}},
	})
}

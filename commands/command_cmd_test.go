package commands

import (
	"strconv"
	"strings"
	"testing"
)

func TestEveryRegisteredCommandHasRedisMetadata(t *testing.T) {
	tbl := NewRedisTable()
	var check func(cmd *Command)
	check = func(cmd *Command) {
		if cmd.meta == nil && !afterRedis70[cmd.Name] {
			t.Errorf("%s: no recorded Redis metadata", cmd.Name)
		}
		if cmd.Arity == 0 {
			t.Errorf("%s: arity 0", cmd.Name)
		}
		if cmd.Handler == nil && len(cmd.Subcommands) == 0 {
			t.Errorf("%s: no handler and no subcommands", cmd.Name)
		}
		for _, sub := range cmd.Subcommands {
			check(sub)
		}
	}
	for _, cmd := range tbl.All() {
		check(cmd)
	}
	get := tbl.LookupFull("get")
	if get.Arity != 2 || !get.HasFlag(FlagReadonly) || get.FirstKey != 1 || strings.Join(get.Categories, ",") != "read,string,fast" {
		t.Fatalf("get metadata: %+v", get)
	}
	if !tbl.LookupFull("auth").HasFlag(FlagNoAuth) || !tbl.LookupFull("hello").HasFlag(FlagNoAuth) {
		t.Fatal("auth/hello must be no_auth")
	}
}

func TestRegisterRejectsWrongMetadata(t *testing.T) {
	cases := map[string]func(*Table){
		"hand-typed arity differs": func(tb *Table) {
			tb.Register(&Command{Name: "get", Arity: 3, Handler: func(*Ctx) error { return nil }})
		},
		"unknown without arity": func(tb *Table) { tb.Register(&Command{Name: "skerryonly", Handler: func(*Ctx) error { return nil }}) },
		"duplicate": func(tb *Table) {
			tb.Register(&Command{Name: "get", Handler: func(*Ctx) error { return nil }})
			tb.Register(&Command{Name: "GET", Handler: func(*Ctx) error { return nil }})
		},
		"sub before parent": func(tb *Table) { tb.Register(&Command{Name: "client|id", Handler: func(*Ctx) error { return nil }}) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f(NewTable())
		})
	}
	// A Skerry-only command with an arity is accepted.
	NewTable().Register(&Command{Name: "skerryonly", Arity: 1, Handler: func(*Ctx) error { return nil }})
}

// Recorded from redis-server 7.0.15: COMMAND INFO get.
const redisCommandInfoGet = "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"

func TestCommandInfoEqualsRecordedRedis(t *testing.T) {
	h := newHarness(t)
	h.expect(redisCommandInfoGet, "COMMAND", "INFO", "get")
	h.expect("*2\r\n$-1\r\n"+redisCommandInfoGet[4:], "COMMAND", "INFO", "nosuch", "GET")
	h.c.Proto = 3
	got := h.do("COMMAND", "INFO", "get")
	if !strings.HasPrefix(got, "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n") || !strings.Contains(got, "%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n") {
		t.Fatalf("RESP3 COMMAND INFO get: %q", got)
	}
	h.expect("%0\r\n", "COMMAND", "DOCS", "nosuch")
}

func TestCommandListsOnlyRegistered(t *testing.T) {
	h := newHarness(t)
	tbl := h.d.Table()
	n := len(tbl.All())
	h.expect(":"+strconv.Itoa(n)+"\r\n", "COMMAND", "COUNT")
	all := h.do("COMMAND")
	if !strings.HasPrefix(all, "*"+strconv.Itoa(n)+"\r\n") {
		t.Fatalf("COMMAND: %.40q", all)
	}
	// CLIENT INFO lists only the registered subcommands (no CLIENT PAUSE).
	ci := h.do("COMMAND", "INFO", "client")
	if strings.Contains(ci, "client|pause") || !strings.Contains(ci, "client|setname") {
		t.Fatalf("COMMAND INFO client lists unregistered subcommands: %q", ci)
	}
	cd := h.do("COMMAND", "DOCS", "client")
	if strings.Contains(cd, "client|pause") || !strings.Contains(cd, "client|setname") {
		t.Fatalf("COMMAND DOCS client: %q", cd)
	}
	list := h.do("COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*name")
	h.expect("*2\r\n$14\r\nclient|getname\r\n$14\r\nclient|setname\r\n", "COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*name")
	_ = list
	keyspaceCat := h.do("COMMAND", "LIST", "FILTERBY", "ACLCAT", "keyspace")
	if !strings.Contains(keyspaceCat, "$6\r\nexpire\r\n") || strings.Contains(keyspaceCat, "$4\r\nping\r\n") {
		t.Fatalf("ACLCAT keyspace: %q", keyspaceCat)
	}
	h.expect("*0\r\n", "COMMAND", "LIST", "FILTERBY", "MODULE", "x")
}

func TestKeyArgsFromKeySpecs(t *testing.T) {
	tbl := NewRedisTable()
	cases := []struct {
		cmd  string
		want string
	}{
		{"mset a 1 b 2", "a b"},
		{"copy a b db 1", "a b"},
		{"object encoding k", "k"},
		{"del a b c", "a b c"},
		{"rename a b", "a b"},
		{"get a", "a"},
		{"keys *", ""},
		{"ping", ""},
	}
	for _, tc := range cases {
		args := splitCmd(tc.cmd)
		bs := make([][]byte, len(args))
		for i, a := range args {
			bs[i] = []byte(a)
		}
		cmd := tbl.LookupFull(args[0])
		if cmd.Subcommands != nil {
			cmd = cmd.Subcommands[args[1]]
		}
		var got []string
		for _, k := range cmd.KeyArgs(bs) {
			got = append(got, string(k))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: keys %q, want %q", tc.cmd, got, tc.want)
		}
	}
	// keynum specs (recorded data, evaluated without a registered command).
	m := recordedRedis().cmds["zunionstore"]
	pos, ok := findKeys(m.specs, [][]byte{[]byte("zunionstore"), []byte("d"), []byte("2"), []byte("a"), []byte("b"), []byte("WEIGHTS"), []byte("1"), []byte("2")})
	if !ok || len(pos) != 3 || pos[0].pos != 1 || pos[1].pos != 3 || pos[2].pos != 4 {
		t.Fatalf("zunionstore keys: %v %v", pos, ok)
	}
	if _, ok := findKeys(m.specs, [][]byte{[]byte("zunionstore"), []byte("d"), []byte("5"), []byte("a")}); ok {
		t.Fatal("keynum beyond the arguments must be invalid")
	}
	m = recordedRedis().cmds["xread"]
	pos, ok = findKeys(m.specs, splitBytes("xread count 2 streams s1 s2 0 0"))
	if !ok || len(pos) != 2 || pos[0].pos != 4 || pos[1].pos != 5 {
		t.Fatalf("xread keys: %v %v", pos, ok)
	}
}

func splitBytes(line string) [][]byte {
	var out [][]byte
	for _, a := range splitCmd(line) {
		out = append(out, []byte(a))
	}
	return out
}

func TestRecordedHelpAndDocsRoundTrip(t *testing.T) {
	h := newHarness(t)
	got := h.do("COMMAND", "HELP")
	if !strings.HasPrefix(got, "*") || !strings.Contains(got, "+GETKEYSANDFLAGS <full-command>\r\n") {
		t.Fatalf("COMMAND HELP: %q", got)
	}
	h.c.Proto = 3
	docs := h.do("COMMAND", "DOCS", "get")
	want := "%1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n"
	if !strings.HasPrefix(docs, want) {
		t.Fatalf("RESP3 COMMAND DOCS get: %q", docs)
	}
}

// Every registered command and subcommand reports exactly what Redis
// reports for COMMAND INFO and COMMAND DOCS, in both protocols.
func TestEveryCommandInfoMatchesRedis(t *testing.T) {
	var cmds []string
	for _, cmd := range NewRedisTable().sorted() {
		if len(cmd.Subcommands) == 0 {
			cmds = append(cmds, "COMMAND INFO "+cmd.Name, "COMMAND DOCS "+cmd.Name)
		}
		for _, sub := range sortedSubs(cmd) {
			if !afterRedis70[sub.Name] {
				cmds = append(cmds, "COMMAND INFO "+sub.Name, "COMMAND DOCS "+sub.Name)
			}
		}
	}
	runDiff(t, []diffCase{{"metadata", cmds}})
}

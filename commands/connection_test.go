package commands

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skerrydb/skerry/resp"
)

func TestAuthWithRequirePass(t *testing.T) {
	h := newHarness(t)
	h.d.env.Config.Set("requirepass", "pw")
	h.c.Authenticated = false
	h.expect("-NOAUTH Authentication required.\r\n", "PING")
	h.expect("-NOAUTH Authentication required.\r\n", "GET", "a")
	h.expect("-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n", "HELLO", "3")
	h.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH", "nope")
	h.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH", "bob", "pw")
	h.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", "HELLO", "3", "AUTH", "default", "x")
	h.expect("+OK\r\n", "AUTH", "pw")
	h.expect("+PONG\r\n", "PING")
	h.expect("+RESET\r\n", "RESET")
	h.expect("-NOAUTH Authentication required.\r\n", "PING")
	got := h.do("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app")
	if !strings.HasPrefix(got, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n") || !strings.Contains(got, "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n") {
		t.Fatalf("HELLO 3: %q", got)
	}
	if h.c.Proto != 3 || !h.c.Authenticated || h.c.Name() != "app" {
		t.Fatalf("client state after HELLO: proto %d auth %v name %q", h.c.Proto, h.c.Authenticated, h.c.Name())
	}
	h.expect("$3\r\napp\r\n", "CLIENT", "GETNAME")
	h.expect("+OK\r\n", "CLIENT", "SETNAME", "")
}

func TestHelloSwitchesProtocol(t *testing.T) {
	h := newHarness(t)
	h.expect("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n", "HELLO", "3")
	if h.c.Proto != 3 {
		t.Fatal("proto not switched")
	}
	h.expect("_\r\n", "CLIENT", "GETNAME")
	h.expect("+RESET\r\n", "RESET")
	if h.c.Proto != 2 {
		t.Fatal("RESET must return to RESP2")
	}
}

func TestQuitClosesAfterReply(t *testing.T) {
	h := newHarness(t)
	h.expect("+OK\r\n", "QUIT")
	if !h.c.CloseRequested() {
		t.Fatal("QUIT must close the connection")
	}
}

func TestClientListFormat(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	h.c.Addr, h.c.LAddr, h.c.Created = "127.0.0.1:5000", "127.0.0.1:6379", now.Add(-3*time.Second)
	other := &resp.Client{ID: 7, Addr: "127.0.0.1:5001", LAddr: "127.0.0.1:6379", Proto: 3, User: "default", Created: now}
	other.Publish() // as its own connection's goroutine does
	h.d.env.Clients = func() []*resp.Client { return []*resp.Client{h.c, other} }
	h.expect("+OK\r\n", "CLIENT", "SETNAME", "me")
	h.expect("+OK\r\n", "CLIENT", "NO-EVICT", "on")
	line := regexp.MustCompile(`^id=\d+ addr=\S+ laddr=\S+ fd=\d+ name=\S* age=\d+ idle=\d+ flags=\S+ db=\d+ sub=0 psub=0 ssub=0 multi=-?\d+ qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=\d+ rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ omem=\d+ tot-mem=\d+ events=r cmd=\S+ user=default redir=-1 resp=[23]$`)
	got := h.do("CLIENT", "LIST")
	body := got[strings.Index(got, "\r\n")+2 : len(got)-2]
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("CLIENT LIST: %q", got)
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("bad client line %q", l)
		}
	}
	if !strings.HasPrefix(lines[0], "id=1 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=0 name=me age=3 ") || !strings.Contains(lines[0], " flags=e ") || !strings.Contains(lines[0], " cmd=client|list ") {
		t.Errorf("line of the caller: %q", lines[0])
	}
	if !strings.Contains(h.do("CLIENT", "LIST", "ID", "7"), "id=7 addr=127.0.0.1:5001") {
		t.Error("CLIENT LIST ID 7")
	}
	info := h.do("CLIENT", "INFO")
	if !strings.Contains(info, "id=1 ") || strings.Contains(info, "id=7 ") {
		t.Errorf("CLIENT INFO: %q", info)
	}
	h.expect(":1\r\n", "CLIENT", "KILL", "ID", "7")
	if !other.CloseRequested() || h.c.CloseRequested() {
		t.Fatal("CLIENT KILL ID 7 killed the wrong client")
	}
	h.expect("+OK\r\n", "CLIENT", "KILL", "127.0.0.1:5001")
	h.expect(":1\r\n", "CLIENT", "KILL", "USER", "default") // SKIPME yes: only the other client (still listed)
	if h.c.CloseRequested() {
		t.Fatal("SKIPME yes")
	}
	h.expect(":2\r\n", "CLIENT", "KILL", "USER", "default", "SKIPME", "no")
	if !h.c.CloseRequested() {
		t.Fatal("SKIPME no must kill the caller")
	}
}

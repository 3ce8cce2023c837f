package playground

import (
	"strings"
	"testing"
)

func TestPlanDerivesPortsAndMembers(t *testing.T) {
	c := Config{Nodes: 3, Port: 7001, DataDir: "/d", Binary: "skerry", ServerArgs: []string{"--requirepass", "x"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	nodes := Plan(c)
	if len(nodes) != 3 {
		t.Fatalf("%d nodes", len(nodes))
	}
	want := "server --addr 127.0.0.1:7002 --data-dir /d/node-2 --peer-addr 127.0.0.1:8002 --status-addr 127.0.0.1:11002 " +
		"--pd --pd-name pd2 --pd-client-addr 127.0.0.1:9002 --pd-peer-addr 127.0.0.1:10002 " +
		"--initial-cluster pd1=http://127.0.0.1:10001,pd2=http://127.0.0.1:10002,pd3=http://127.0.0.1:10003 --requirepass x"
	if got := strings.Join(nodes[1].Args, " "); got != want {
		t.Fatalf("node 2 command line:\n got %s\nwant %s", got, want)
	}
	if nodes[2].Addr != "127.0.0.1:7003" {
		t.Fatalf("node 3 addr %s", nodes[2].Addr)
	}
}

func TestValidateRejectsBadConfigs(t *testing.T) {
	for _, c := range []Config{
		{Nodes: 10, DataDir: "d"},
		{Nodes: -1, DataDir: "d"},
		{Port: 65000, DataDir: "d"},
		{Nodes: 3},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

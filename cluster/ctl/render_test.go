package ctl

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

var (
	testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	testStores = []pdclient.Store{
		{ID: 3, PeerAddr: "10.0.0.3:20160", RESPAddr: "10.0.0.3:6379", StatusAddr: "10.0.0.3:20180", State: pdclient.StoreOffline,
			LastHeartbeat: testNow.Add(-250 * time.Millisecond)},
		{ID: 1, PeerAddr: "10.0.0.1:20160", RESPAddr: "10.0.0.1:6379", StatusAddr: "10.0.0.1:20180", State: pdclient.StoreUp,
			LastHeartbeat: testNow.Add(-3 * time.Second)},
		{ID: 2, PeerAddr: "10.0.0.2:20160", State: pdclient.StoreTombstone},
	}

	testRegions = []pdclient.RegionInfo{
		{Region: pdclient.Region{ID: 20, EndKey: keys.SlotPrefix(8192), Epoch: pdclient.Epoch{ConfVer: 5, Version: 2},
			Peers: []pdclient.Peer{{ID: 23, StoreID: 3}, {ID: 21, StoreID: 1}, {ID: 22, StoreID: 2, Learner: true}}},
			Leader: pdclient.Peer{ID: 21, StoreID: 1}},
		{Region: pdclient.Region{ID: 10, StartKey: keys.SlotPrefix(8192), EndKey: keys.MetaKey(0, []byte("foo")),
			Epoch: pdclient.Epoch{ConfVer: 5, Version: 3}, Peers: []pdclient.Peer{{ID: 11, StoreID: 1}, {ID: 13, StoreID: 3}}},
			Leader: pdclient.Peer{ID: 13, StoreID: 3}},
		{Region: pdclient.Region{ID: 30, StartKey: keys.MetaKey(0, []byte("foo")), Epoch: pdclient.Epoch{ConfVer: 1, Version: 3}}},
	}
)

func regionViews(infos []pdclient.RegionInfo) []RegionView {
	var out []RegionView
	for _, r := range infos {
		out = append(out, NewRegionView(r))
	}
	return out
}

func checkGolden(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n")
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderStores(t *testing.T) {
	views := NewStoreViews(testStores, testRegions, testNow)
	var b bytes.Buffer
	if err := RenderStores(&b, FormatTable, views); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, b.String(), `
ID  PEER ADDR       RESP ADDR      STATUS ADDR     STATE      HEARTBEAT  REGIONS  LEADERS
1   10.0.0.1:20160  10.0.0.1:6379  10.0.0.1:20180  Up         3s         2        1
2   10.0.0.2:20160  -              -               Tombstone  -          1        0
3   10.0.0.3:20160  10.0.0.3:6379  10.0.0.3:20180  Offline    250ms      2        1
`)
	b.Reset()
	if err := RenderStores(&b, FormatJSON, views[:2]); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, b.String(), `
[
  {
    "id": 1,
    "peer_addr": "10.0.0.1:20160",
    "resp_addr": "10.0.0.1:6379",
    "status_addr": "10.0.0.1:20180",
    "state": "Up",
    "last_heartbeat": "2026-01-02T03:04:02Z",
    "heartbeat_age": "3s",
    "regions": 2,
    "leaders": 1
  },
  {
    "id": 2,
    "peer_addr": "10.0.0.2:20160",
    "resp_addr": "",
    "status_addr": "",
    "state": "Tombstone",
    "last_heartbeat": null,
    "heartbeat_age": "-",
    "regions": 1,
    "leaders": 0
  }
]
`)
}

func TestRenderRegions(t *testing.T) {
	var b bytes.Buffer
	if err := RenderRegions(&b, FormatTable, regionViews(testRegions)); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, b.String(), `
ID  SLOTS         START                  END                    CONF/VER  LEADER  PEERS
20  0-8191        -inf                   slot 8192              5/2       21@1    21@1,22@2(learner),23@3
10  8192-12182*   slot 8192              slot 12182 db 0 "foo"  5/3       13@3    11@1,13@3
30  12182*-16383  slot 12182 db 0 "foo"  +inf                   1/3       -       -
`)
	b.Reset()
	if err := RenderRegion(&b, FormatJSON, NewRegionView(testRegions[0])); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, b.String(), `
{
  "id": 20,
  "slots": "0-8191",
  "slot_range": {
    "first": 0,
    "last": 8191
  },
  "start_key": "",
  "end_key": "2000",
  "start": "-inf",
  "end": "slot 8192",
  "epoch": {
    "conf_ver": 5,
    "version": 2
  },
  "leader": {
    "id": 21,
    "store_id": 1
  },
  "peers": [
    {
      "id": 21,
      "store_id": 1
    },
    {
      "id": 22,
      "store_id": 2,
      "learner": true
    },
    {
      "id": 23,
      "store_id": 3
    }
  ]
}
`)
	b.Reset()
	if err := RenderRegion(&b, FormatJSON, NewRegionView(testRegions[2])); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"leader": null`) || !strings.Contains(b.String(), `"peers": []`) || !strings.Contains(b.String(), `"first_partial": true`) {
		t.Fatalf("region without leader or peers:\n%s", b.String())
	}
}

func TestAddStore(t *testing.T) {
	var b bytes.Buffer
	if err := AddStore(Config{Endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}, Out: &b}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n  skerry server --pd=false --join http://10.0.0.1:2379,http://10.0.0.2:2379 --addr HOST:6379 ") {
		t.Fatalf("no join command:\n%s", b.String())
	}
	b.Reset()
	if err := AddStore(Config{Format: FormatJSON, Out: &b}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, b.String(), `
{
  "join": [
    "http://127.0.0.1:2379"
  ],
  "command": "skerry server --pd=false --join http://127.0.0.1:2379 --addr HOST:6379 --peer-addr HOST:20160 --status-addr HOST:20180 --data-dir DIR"
}
`)
	if err := AddStore(Config{Format: "yaml"}); err == nil {
		t.Fatal("format yaml accepted")
	}
}

package meta

import (
	"errors"
	"fmt"
	"testing"

	"github.com/skerrydb/skerry/pd/pdclient"
)

func region(id uint64, start, end string, confVer, version uint64) RegionState {
	r := pdclient.Region{ID: id, Epoch: pdclient.Epoch{ConfVer: confVer, Version: version},
		Peers: []pdclient.Peer{{ID: id*10 + 1, StoreID: 1}}}
	if start != "" {
		r.StartKey = []byte(start)
	}
	if end != "" {
		r.EndKey = []byte(end)
	}
	return RegionState{RegionInfo: pdclient.RegionInfo{Region: r, Leader: r.Peers[0]}}
}

// layout renders the tree as "id[start,end)v" in key order.
func layout(t *Tree) string {
	s := ""
	for _, st := range t.All() {
		s += fmt.Sprintf("%d[%s,%s)v%d ", st.Region.ID, st.Region.StartKey, st.Region.EndKey, st.Region.Epoch.Version)
	}
	return s
}

func TestTreeUpdate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		steps   []RegionState
		wantErr []error // per step; nil = success
		want    string
	}{
		{
			name:  "disjoint",
			steps: []RegionState{region(2, "m", "", 1, 1), region(1, "", "m", 1, 1)},
			want:  "1[,m)v1 2[m,)v1 ",
		},
		{
			name:  "split reported by the left half (new ID)",
			steps: []RegionState{region(1, "", "", 1, 1), region(3, "", "g", 1, 2), region(1, "g", "", 1, 2)},
			want:  "3[,g)v2 1[g,)v2 ",
		},
		{
			name:  "split reported by the right half, parent keeps its ID on the left",
			steps: []RegionState{region(1, "", "", 1, 1), region(4, "g", "", 1, 2), region(1, "", "g", 1, 2)},
			want:  "1[,g)v2 4[g,)v2 ",
		},
		{
			name:    "stale version of the same region",
			steps:   []RegionState{region(1, "", "g", 1, 2), region(1, "", "", 1, 1)},
			wantErr: []error{nil, ErrStale},
			want:    "1[,g)v2 ",
		},
		{
			name:    "stale conf version of the same region",
			steps:   []RegionState{region(1, "", "", 3, 1), region(1, "", "", 2, 1)},
			wantErr: []error{nil, ErrStale},
			want:    "1[,)v1 ",
		},
		{
			name:    "parent reported after its split is stale",
			steps:   []RegionState{region(3, "", "g", 1, 2), region(1, "g", "", 1, 2), region(1, "", "", 1, 1)},
			wantErr: []error{nil, nil, ErrStale},
			want:    "3[,g)v2 1[g,)v2 ",
		},
		{
			name:    "overlap with an equal version is refused",
			steps:   []RegionState{region(1, "", "m", 1, 2), region(2, "k", "", 1, 2)},
			wantErr: []error{nil, ErrStale},
			want:    "1[,m)v2 ",
		},
		{
			name:  "merge: a newer region covers two",
			steps: []RegionState{region(1, "", "g", 1, 2), region(2, "g", "", 1, 2), region(2, "", "", 1, 3)},
			want:  "2[,)v3 ",
		},
		{
			name:    "bad range",
			steps:   []RegionState{region(1, "z", "a", 1, 1)},
			wantErr: []error{pdclient.ErrInvalidArgument},
			want:    "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTree()
			for i, st := range tc.steps {
				_, _, err := tr.Update(st)
				var want error
				if i < len(tc.wantErr) {
					want = tc.wantErr[i]
				}
				if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
					t.Fatalf("step %d: err = %v, want %v", i, err, want)
				}
			}
			if got := layout(tr); got != tc.want {
				t.Fatalf("tree = %q, want %q", got, tc.want)
			}
			if tr.Len() != len(tr.byID) {
				t.Fatalf("%d regions by key, %d by ID", tr.Len(), len(tr.byID))
			}
		})
	}
}

func TestTreeChangedAndRemoved(t *testing.T) {
	tr := NewTree()
	if changed, _, _ := tr.Update(region(1, "", "", 1, 1)); !changed {
		t.Fatal("first report not changed")
	}
	st := region(1, "", "", 1, 1)
	st.ApproxBytes = 99
	if changed, _, _ := tr.Update(st); changed {
		t.Fatal("size-only report marked changed")
	}
	if got, _ := tr.GetByID(1); got.ApproxBytes != 99 {
		t.Fatal("size not recorded")
	}
	changed, removed, err := tr.Update(region(2, "", "", 1, 2))
	if err != nil || !changed || len(removed) != 1 || removed[0].ID != 1 {
		t.Fatalf("replace = %v %v %v", changed, removed, err)
	}
	if _, ok := tr.GetByID(1); ok {
		t.Fatal("replaced region still found by ID")
	}
}

func TestTreeGetScan(t *testing.T) {
	tr := NewTree()
	for i, b := range []string{"", "c", "f", "k"} {
		end := []string{"c", "f", "k", ""}[i]
		if _, _, err := tr.Update(region(uint64(i+1), b, end, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string]uint64{"": 1, "b": 1, "c": 2, "e\xff": 2, "f": 3, "k": 4, "zz": 4} {
		got, ok := tr.Get([]byte(key))
		if !ok || got.Region.ID != want {
			t.Errorf("Get(%q) = %d, %v; want %d", key, got.Region.ID, ok, want)
		}
	}
	ids := func(rs []pdclient.RegionInfo) string {
		s := ""
		for _, r := range rs {
			s += fmt.Sprint(r.Region.ID)
		}
		return s
	}
	for _, tc := range []struct {
		start, end string
		limit      int
		want       string
	}{
		{"", "", 0, "1234"},
		{"d", "", 0, "234"},
		{"d", "k", 0, "23"},
		{"", "", 2, "12"},
		{"z", "", 0, "4"},
	} {
		if got := ids(tr.Scan([]byte(tc.start), []byte(tc.end), tc.limit)); got != tc.want {
			t.Errorf("Scan(%q,%q,%d) = %s, want %s", tc.start, tc.end, tc.limit, got, tc.want)
		}
	}
	if _, ok := NewTree().Get([]byte("a")); ok {
		t.Error("empty tree found a region")
	}
}

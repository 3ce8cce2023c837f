package ctl

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// PeerView is a region's replica as printed.
type PeerView struct {
	ID      uint64 `json:"id"`
	StoreID uint64 `json:"store_id"`
	Learner bool   `json:"learner,omitempty"`
}

// String is "peer@store", with "(learner)" appended for a learner.
func (p PeerView) String() string {
	s := fmt.Sprintf("%d@%d", p.ID, p.StoreID)
	if p.Learner {
		s += "(learner)"
	}
	return s
}

// RegionView is a region as printed. The JSON field names are what
// scripts read: only add fields, never rename one.
type RegionView struct {
	ID uint64 `json:"id"`
	// Slots is SlotRange rendered ("0-16383", "100*-200", "-").
	Slots     string    `json:"slots"`
	SlotRange SlotRange `json:"slot_range"`
	// StartKey and EndKey are the raw bounds in hex ("": the start or
	// the end of the keyspace); Start and End describe them (DescribeKey).
	StartKey string         `json:"start_key"`
	EndKey   string         `json:"end_key"`
	Start    string         `json:"start"`
	End      string         `json:"end"`
	Epoch    pdclient.Epoch `json:"epoch"`
	// Leader is nil when PD knows no leader.
	Leader *PeerView  `json:"leader"`
	Peers  []PeerView `json:"peers"`
}

// NewRegionView describes one region as PD reports it.
func NewRegionView(info pdclient.RegionInfo) RegionView {
	r := info.Region
	slots := SlotsOf(r.StartKey, r.EndKey)
	v := RegionView{
		ID: r.ID, Slots: slots.String(), SlotRange: slots,
		StartKey: hex.EncodeToString(r.StartKey), EndKey: hex.EncodeToString(r.EndKey),
		Start: DescribeKey(r.StartKey), End: DescribeKey(r.EndKey),
		Epoch: r.Epoch, Peers: []PeerView{},
	}
	if v.Start == "" {
		v.Start = "-inf"
	}
	if v.End == "" {
		v.End = "+inf"
	}
	for _, p := range r.Peers {
		v.Peers = append(v.Peers, PeerView{ID: p.ID, StoreID: p.StoreID, Learner: p.Learner})
	}
	slices.SortFunc(v.Peers, func(a, b PeerView) int { return cmp.Compare(a.ID, b.ID) })
	if info.Leader.ID != 0 {
		v.Leader = &PeerView{ID: info.Leader.ID, StoreID: info.Leader.StoreID}
	}
	return v
}

// StoreView is a store as printed. The JSON field names are what scripts
// read: only add fields, never rename one.
type StoreView struct {
	ID         uint64 `json:"id"`
	PeerAddr   string `json:"peer_addr"`
	RESPAddr   string `json:"resp_addr"`
	StatusAddr string `json:"status_addr"`
	State      string `json:"state"`
	// LastHeartbeat is nil if the PD leader never heard from the store.
	LastHeartbeat *time.Time `json:"last_heartbeat"`
	// HeartbeatAge is how long ago LastHeartbeat was ("-": never).
	HeartbeatAge string `json:"heartbeat_age"`
	// Regions and Leaders count the store's replicas and leaders in PD's
	// region map.
	Regions int `json:"regions"`
	Leaders int `json:"leaders"`
}

// NewStoreViews describes stores, sorted by ID, counting their replicas
// and leaders in regions; heartbeat ages are taken at now.
func NewStoreViews(stores []pdclient.Store, regions []pdclient.RegionInfo, now time.Time) []StoreView {
	replicas, leaders := map[uint64]int{}, map[uint64]int{}
	for _, r := range regions {
		for _, p := range r.Region.Peers {
			replicas[p.StoreID]++
		}
		if r.Leader.ID != 0 {
			leaders[r.Leader.StoreID]++
		}
	}
	out := make([]StoreView, 0, len(stores))
	for _, s := range stores {
		v := StoreView{ID: s.ID, PeerAddr: s.PeerAddr, RESPAddr: s.RESPAddr, StatusAddr: s.StatusAddr,
			State: s.State.String(), HeartbeatAge: "-", Regions: replicas[s.ID], Leaders: leaders[s.ID]}
		if !s.LastHeartbeat.IsZero() {
			hb := s.LastHeartbeat.UTC()
			v.LastHeartbeat = &hb
			v.HeartbeatAge = formatAge(now.Sub(hb))
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b StoreView) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// formatAge renders a duration for people: milliseconds below a second,
// whole seconds above ("250ms", "3s", "1m5s").
func formatAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// orDash is s, or "-" when s is empty (a table cell must not be blank).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeTable writes rows under header as aligned columns.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// RenderStores writes stores in format f.
func RenderStores(w io.Writer, f Format, stores []StoreView) error {
	if f == FormatJSON {
		return writeJSON(w, stores)
	}
	rows := make([][]string, 0, len(stores))
	for _, s := range stores {
		rows = append(rows, []string{fmt.Sprint(s.ID), orDash(s.PeerAddr), orDash(s.RESPAddr), orDash(s.StatusAddr),
			s.State, s.HeartbeatAge, fmt.Sprint(s.Regions), fmt.Sprint(s.Leaders)})
	}
	return writeTable(w, []string{"ID", "PEER ADDR", "RESP ADDR", "STATUS ADDR", "STATE", "HEARTBEAT", "REGIONS", "LEADERS"}, rows)
}

// RenderRegions writes regions in format f (a JSON array).
func RenderRegions(w io.Writer, f Format, regions []RegionView) error {
	if f == FormatJSON {
		return writeJSON(w, regions)
	}
	return regionTable(w, regions)
}

// RenderRegion writes one region in format f (a JSON object).
func RenderRegion(w io.Writer, f Format, region RegionView) error {
	if f == FormatJSON {
		return writeJSON(w, region)
	}
	return regionTable(w, []RegionView{region})
}

func regionTable(w io.Writer, regions []RegionView) error {
	rows := make([][]string, 0, len(regions))
	for _, r := range regions {
		leader := "-"
		if r.Leader != nil {
			leader = r.Leader.String()
		}
		peers := make([]string, len(r.Peers))
		for i, p := range r.Peers {
			peers[i] = p.String()
		}
		rows = append(rows, []string{fmt.Sprint(r.ID), r.Slots, r.Start, r.End,
			fmt.Sprintf("%d/%d", r.Epoch.ConfVer, r.Epoch.Version), leader, orDash(strings.Join(peers, ","))})
	}
	return writeTable(w, []string{"ID", "SLOTS", "START", "END", "CONF/VER", "LEADER", "PEERS"}, rows)
}

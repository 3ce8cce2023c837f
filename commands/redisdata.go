package commands

//go:generate go run ./internal/gencommands -out redis70_commands.json

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/skerrydb/skerry/resp"
)

// redis70Commands is the recorded COMMAND INFO and COMMAND DOCS reply of
// every command of Redis 7.0 (see internal/gencommands for the encoding).
//
//go:embed redis70_commands.json
var redis70Commands []byte

// replyKind is the RESP3 type of a recorded reply node.
type replyKind uint8

const (
	kindBulk replyKind = iota
	kindInt
	kindNull
	kindArray
	kindSimple
	kindMap
	kindSet
	kindDouble
	kindBool
	kindVerbatim
)

// reply is a recorded reply tree. Maps keep their pairs in order in Items
// (k1, v1, k2, v2...).
type reply struct {
	Kind  replyKind
	Str   string
	Int   int64
	Items []*reply
}

// write encodes r for the writer's protocol version (RESP3 types degrade
// to RESP2 as Redis does).
func (r *reply) write(w *resp.Writer) {
	switch r.Kind {
	case kindBulk:
		w.BulkString(r.Str)
	case kindInt:
		w.Int(r.Int)
	case kindNull:
		w.Null()
	case kindSimple:
		w.Simple(r.Str)
	case kindDouble:
		if w.Proto() == 3 {
			w.Raw([]byte("," + r.Str + "\r\n"))
		} else {
			w.BulkString(r.Str)
		}
	case kindBool:
		w.Bool(r.Int != 0)
	case kindVerbatim:
		w.Verbatim(strings.TrimPrefix(r.Str, "txt:"))
	case kindArray:
		w.Array(len(r.Items))
	case kindSet:
		w.Set(len(r.Items))
	case kindMap:
		w.Map(len(r.Items) / 2)
	}
	for _, it := range r.Items {
		it.write(w)
	}
}

// decodeReply converts the JSON form of a reply tree.
func decodeReply(v any) (*reply, error) {
	list := func(x any) ([]*reply, error) {
		arr, ok := x.([]any)
		if !ok {
			return nil, fmt.Errorf("commands: bad recorded list %T", x)
		}
		out := make([]*reply, len(arr))
		for i, it := range arr {
			r, err := decodeReply(it)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	switch x := v.(type) {
	case nil:
		return &reply{Kind: kindNull}, nil
	case string:
		return &reply{Kind: kindBulk, Str: x}, nil
	case json.Number:
		n, err := x.Int64()
		return &reply{Kind: kindInt, Int: n}, err
	case []any:
		items, err := list(x)
		return &reply{Kind: kindArray, Items: items}, err
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("commands: bad recorded node %v", x)
		}
		for tag, val := range x {
			switch tag {
			case "+", ",", "=":
				s, _ := val.(string)
				k := map[string]replyKind{"+": kindSimple, ",": kindDouble, "=": kindVerbatim}[tag]
				return &reply{Kind: k, Str: s}, nil
			case "#":
				b, _ := val.(bool)
				r := &reply{Kind: kindBool}
				if b {
					r.Int = 1
				}
				return r, nil
			case "%", "~":
				items, err := list(val)
				k := kindMap
				if tag == "~" {
					k = kindSet
				}
				return &reply{Kind: k, Items: items}, err
			}
		}
	}
	return nil, fmt.Errorf("commands: bad recorded node %T", v)
}

// keySpec is one key specification of COMMAND INFO, used to find the key
// arguments of a call (Redis's getKeysUsingKeySpecs).
type keySpec struct {
	flags []string
	// begin_search
	index     int    // "index" type: absolute argument position
	keyword   string // "keyword" type (index == 0)
	startFrom int
	// find_keys
	keynum                    bool
	lastKey, keyStep, limit   int // "range"
	keynumIdx, firstKey, step int // "keynum"
}

// commandMeta is the recorded metadata of one command or subcommand.
type commandMeta struct {
	name       string
	info       *reply // the COMMAND INFO array
	docs       *reply // the COMMAND DOCS map
	help       *reply // the reply of "<name> HELP" (top-level commands with HELP)
	arity      int
	flags      []string
	firstKey   int
	lastKey    int
	step       int
	categories []string // without '@'
	specs      []keySpec
	specsOK    bool // every spec has a known begin_search and find_keys type
}

// redisData is the decoded recorded data, by lower-case full name
// ("get", "client|setname").
type redisData struct {
	version string
	cmds    map[string]*commandMeta
}

var (
	redisDataOnce sync.Once
	redisDataVal  *redisData
)

// recordedRedis returns the decoded recorded data; the embedded file is
// part of the binary, so failing to decode it is a build defect and panics.
func recordedRedis() *redisData {
	redisDataOnce.Do(func() {
		d, err := loadRedisData(redis70Commands)
		if err != nil {
			panic(err)
		}
		redisDataVal = d
	})
	return redisDataVal
}

func loadRedisData(raw []byte) (*redisData, error) {
	var file struct {
		Version  string
		Commands map[string]struct {
			Info any
			Docs any
			Help any
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("commands: recorded command data: %w", err)
	}
	d := &redisData{version: file.Version, cmds: map[string]*commandMeta{}}
	for name, e := range file.Commands {
		info, err := decodeReply(e.Info)
		if err != nil {
			return nil, err
		}
		docs, err := decodeReply(e.Docs)
		if err != nil {
			return nil, err
		}
		if err := d.add(name, info, docs); err != nil {
			return nil, err
		}
		if e.Help != nil {
			help, err := decodeReply(e.Help)
			if err != nil {
				return nil, err
			}
			d.cmds[name].help = help
		}
	}
	return d, nil
}

// add records a command and, recursively, its subcommands.
func (d *redisData) add(name string, info, docs *reply) error {
	if info.Kind != kindArray || len(info.Items) < 10 {
		return fmt.Errorf("commands: recorded COMMAND INFO of %q is malformed", name)
	}
	m := &commandMeta{
		name:     name,
		info:     info,
		docs:     docs,
		arity:    int(info.Items[1].Int),
		firstKey: int(info.Items[3].Int),
		lastKey:  int(info.Items[4].Int),
		step:     int(info.Items[5].Int),
	}
	for _, f := range info.Items[2].Items {
		m.flags = append(m.flags, f.Str)
	}
	for _, c := range info.Items[6].Items {
		m.categories = append(m.categories, strings.TrimPrefix(c.Str, "@"))
	}
	m.specs, m.specsOK = parseKeySpecs(info.Items[8])
	d.cmds[name] = m
	subDocs := mapGet(docs, "subcommands")
	for _, sub := range info.Items[9].Items {
		if len(sub.Items) < 1 {
			continue
		}
		subName := sub.Items[0].Str
		sd := mapGet(subDocs, subName)
		if sd == nil {
			sd = &reply{Kind: kindMap}
		}
		if err := d.add(subName, sub, sd); err != nil {
			return err
		}
	}
	return nil
}

// mapGet returns the value of key in a recorded map (nil if absent).
func mapGet(m *reply, key string) *reply {
	if m == nil || m.Kind != kindMap {
		return nil
	}
	for i := 0; i+1 < len(m.Items); i += 2 {
		if m.Items[i].Str == key {
			return m.Items[i+1]
		}
	}
	return nil
}

func parseKeySpecs(list *reply) ([]keySpec, bool) {
	ok := true
	var out []keySpec
	for _, s := range list.Items {
		var ks keySpec
		if f := mapGet(s, "flags"); f != nil {
			for _, it := range f.Items {
				ks.flags = append(ks.flags, it.Str)
			}
		}
		bs := mapGet(s, "begin_search")
		switch mapGet(bs, "type").stringOr("") {
		case "index":
			ks.index = int(mapGet(mapGet(bs, "spec"), "index").intOr(0))
		case "keyword":
			sp := mapGet(bs, "spec")
			ks.keyword = mapGet(sp, "keyword").stringOr("")
			ks.startFrom = int(mapGet(sp, "startfrom").intOr(0))
		default:
			ok = false
		}
		fk := mapGet(s, "find_keys")
		sp := mapGet(fk, "spec")
		switch mapGet(fk, "type").stringOr("") {
		case "range":
			ks.lastKey = int(mapGet(sp, "lastkey").intOr(0))
			ks.keyStep = int(mapGet(sp, "keystep").intOr(1))
			ks.limit = int(mapGet(sp, "limit").intOr(0))
		case "keynum":
			ks.keynum = true
			ks.keynumIdx = int(mapGet(sp, "keynumidx").intOr(0))
			ks.firstKey = int(mapGet(sp, "firstkey").intOr(1))
			ks.step = int(mapGet(sp, "keystep").intOr(1))
		default:
			ok = false
		}
		out = append(out, ks)
	}
	return out, ok
}

func (r *reply) stringOr(def string) string {
	if r == nil {
		return def
	}
	return r.Str
}

func (r *reply) intOr(def int64) int64 {
	if r == nil || r.Kind != kindInt {
		return def
	}
	return r.Int
}

// keyPos is one key found by the key specs: its argument index and the
// flags of the spec that found it.
type keyPos struct {
	pos   int
	flags []string
}

// findKeys returns the key positions of a call using the key specs, as
// Redis's getKeysUsingKeySpecs does; ok is false when an argument count
// or keynum is invalid (Redis: "Invalid arguments specified").
func findKeys(specs []keySpec, args [][]byte) (out []keyPos, ok bool) {
	argc := len(args)
	for _, ks := range specs {
		first := 0
		if ks.keyword == "" {
			first = ks.index
		} else {
			start, end, incr := ks.startFrom, argc, 1
			if ks.startFrom < 0 {
				start, end, incr = argc+ks.startFrom, 0, -1
			}
			for i := start; i != end && i > 0 && i < argc; i += incr {
				if strings.EqualFold(string(args[i]), ks.keyword) {
					first = i + 1
					break
				}
			}
			if first == 0 {
				continue
			}
		}
		if first <= 0 || first >= argc {
			continue
		}
		var last, step int
		if !ks.keynum {
			step = ks.keyStep
			switch {
			case ks.lastKey >= 0:
				last = first + ks.lastKey
			case ks.limit <= 1:
				last = argc + ks.lastKey
			default:
				last = first + (argc-first)/ks.limit + ks.lastKey
			}
		} else {
			idx := first + ks.keynumIdx
			if idx >= argc {
				return nil, false
			}
			n, err := intArg(args[idx])
			if err != nil || n < 0 {
				return nil, false
			}
			first = idx + ks.firstKey - ks.keynumIdx
			step = ks.step
			last = first + int(n)*step - 1
			if n == 0 {
				continue
			}
			if last >= argc {
				return nil, false
			}
		}
		if step <= 0 {
			step = 1
		}
		for i := first; i <= last; i += step {
			if i >= argc || i < 0 {
				// Redis treats a range beyond the arguments as invalid
				// only for keynum specs; ranges are clamped.
				break
			}
			out = append(out, keyPos{pos: i, flags: ks.flags})
		}
	}
	return out, true
}

// applyMeta fills cmd from the recorded data. It panics when a hand-typed
// Arity contradicts Redis: metadata must come from the data.
func applyMeta(cmd *Command) {
	m := recordedRedis().cmds[cmd.Name]
	if m == nil {
		if cmd.Arity == 0 {
			panic(fmt.Sprintf("commands: %q is not a Redis 7.0 command and has no Arity", cmd.Name))
		}
		return
	}
	if cmd.Arity != 0 && cmd.Arity != m.arity {
		panic(fmt.Sprintf("commands: %q registered with arity %d, Redis 7.0 has %d", cmd.Name, cmd.Arity, m.arity))
	}
	cmd.Arity = m.arity
	cmd.Flags = m.flags
	cmd.FirstKey, cmd.LastKey, cmd.Step = m.firstKey, m.lastKey, m.step
	cmd.Categories = m.categories
	cmd.meta = m
}

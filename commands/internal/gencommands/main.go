// Command gencommands records the command metadata of a real Redis server
// into commands/redis70_commands.json, which package commands embeds. It
// starts a throw-away redis-server on 127.0.0.1 (or uses -addr), switches
// to RESP3 so maps, sets and simple strings stay distinguishable, and for
// every command stores the exact reply trees of COMMAND INFO <name> and
// COMMAND DOCS <name>, and for commands with a HELP subcommand the reply
// of <name> HELP (help texts are replies, so they are recorded too).
//
// Subcommands are stored sorted by name (Redis's own order is that of a
// randomly seeded dict, different in every process).
//
// JSON encoding of a reply tree (shared with commands/redisdata.go): a bulk
// string is a JSON string, an integer a JSON number, null is null, an array
// a JSON array; the other RESP3 types are one-key objects:
// {"+": "simple"}, {"%": [k1, v1, k2, v2...]}, {"~": [...]}, {",": "1.5"},
// {"#": true}, {"=": "txt:..."}.
//
// Usage (from the repository root):
//
//	go run ./commands/internal/gencommands -out commands/redis70_commands.json
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "", "use a running Redis at host:port instead of starting redis-server")
	server := flag.String("redis-server", "redis-server", "redis-server binary to start when -addr is empty")
	out := flag.String("out", "redis70_commands.json", "output file")
	flag.Parse()
	if err := run(*addr, *server, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencommands:", err)
		os.Exit(1)
	}
}

func run(addr, server, out string) error {
	if addr == "" {
		stop, a, err := startServer(server)
		if err != nil {
			return err
		}
		defer stop()
		addr = a
	}
	conn, err := dialRetry(addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	cl := &client{conn: conn, r: bufio.NewReader(conn)}
	if _, err := cl.do("HELLO", "3"); err != nil {
		return err
	}
	ver, err := cl.do("INFO", "server")
	if err != nil {
		return err
	}
	version := infoField(ver, "redis_version")
	list, err := cl.do("COMMAND", "LIST")
	if err != nil {
		return err
	}
	var names []string
	for _, n := range list.([]any) {
		names = append(names, n.(string))
	}
	sort.Strings(names)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\"version\": %q,\n\"commands\": {\n", version)
	for i, name := range names {
		info, err := cl.do("COMMAND", "INFO", name)
		if err != nil {
			return err
		}
		docs, err := cl.do("COMMAND", "DOCS", name)
		if err != nil {
			return err
		}
		arr, ok := info.([]any)
		if !ok || len(arr) != 1 {
			return fmt.Errorf("COMMAND INFO %s: unexpected reply %v", name, info)
		}
		dm, ok := docs.(mapValue)
		if !ok || len(dm) != 2 {
			return fmt.Errorf("COMMAND DOCS %s: unexpected reply %v", name, docs)
		}
		sortSubcommands(arr[0], dm[1])
		entry := map[string]any{"info": encode(arr[0]), "docs": encode(dm[1])}
		if hasHelp(arr[0]) {
			help, err := cl.do(name, "HELP")
			if err != nil {
				return fmt.Errorf("%s HELP: %w", name, err)
			}
			entry["help"] = encode(help)
		}
		b, err := json.Marshal(entry)
		if err != nil {
			return err
		}
		sep := ","
		if i == len(names)-1 {
			sep = ""
		}
		fmt.Fprintf(&buf, "%q: %s%s\n", name, b, sep)
	}
	buf.WriteString("}}\n")
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// sortSubcommands orders the subcommands of a COMMAND INFO entry and of a
// COMMAND DOCS map by name. Redis lists them in the order of a dict with a
// random per-process seed; sorting keeps the recorded file reproducible.
func sortSubcommands(info, docs any) {
	if arr, ok := info.([]any); ok && len(arr) >= 10 {
		if subs, ok := arr[9].([]any); ok {
			sort.SliceStable(subs, func(i, j int) bool { return subName(subs[i]) < subName(subs[j]) })
			for _, sub := range subs {
				sortSubcommands(sub, nil)
			}
		}
	}
	m, ok := docs.(mapValue)
	if !ok {
		return
	}
	for i := 0; i+1 < len(m); i += 2 {
		if k, _ := m[i].(string); k != "subcommands" {
			continue
		}
		sm, ok := m[i+1].(mapValue)
		if !ok {
			continue
		}
		type pair struct {
			name string
			docs any
		}
		pairs := make([]pair, 0, len(sm)/2)
		for j := 0; j+1 < len(sm); j += 2 {
			n, _ := sm[j].(string)
			pairs = append(pairs, pair{n, sm[j+1]})
		}
		sort.Slice(pairs, func(a, b int) bool { return pairs[a].name < pairs[b].name })
		for j, p := range pairs {
			sm[2*j], sm[2*j+1] = p.name, p.docs
		}
	}
}

func subName(v any) string {
	if arr, ok := v.([]any); ok && len(arr) > 0 {
		s, _ := arr[0].(string)
		return s
	}
	return ""
}

// hasHelp reports whether a COMMAND INFO entry lists a "<name>|help"
// subcommand.
func hasHelp(info any) bool {
	arr, ok := info.([]any)
	if !ok || len(arr) < 10 {
		return false
	}
	subs, _ := arr[9].([]any)
	for _, s := range subs {
		if sa, ok := s.([]any); ok && len(sa) > 0 {
			if n, _ := sa[0].(string); len(n) > 5 && n[len(n)-5:] == "|help" {
				return true
			}
		}
	}
	return false
}

func infoField(v any, field string) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case verbatim:
		s = string(x)
		if len(s) >= 4 {
			s = s[4:]
		}
	}
	for _, line := range bytes.Split([]byte(s), []byte("\r\n")) {
		if k, val, ok := bytes.Cut(line, []byte(":")); ok && string(k) == field {
			return string(val)
		}
	}
	return ""
}

// startServer starts redis-server on a free 127.0.0.1 port with no
// persistence and returns a function that stops it.
func startServer(bin string) (func(), string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "gencommands")
	if err != nil {
		return nil, "", err
	}
	// Cluster mode, so that CLUSTER HELP answers too; it changes no
	// command metadata.
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--cluster-enabled", "yes",
		"--cluster-config-file", dir+"/nodes.conf")
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	return stop, fmt.Sprintf("127.0.0.1:%d", port), nil
}

func dialRetry(addr string, d time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(d)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type client struct {
	conn net.Conn
	r    *bufio.Reader
}

type (
	simple   string
	mapValue []any
	setValue []any
	double   string
	verbatim string
	null     struct{}
	boolean  bool
)

func (c *client) do(args ...string) (any, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.conn.Write(b.Bytes()); err != nil {
		return nil, err
	}
	return c.read()
}

func (c *client) line() (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(s) < 2 || s[len(s)-2] != '\r' {
		return "", errors.New("malformed line")
	}
	return s[:len(s)-2], nil
}

func (c *client) read() (any, error) {
	l, err := c.line()
	if err != nil {
		return nil, err
	}
	if l == "" {
		return nil, errors.New("empty line")
	}
	body := l[1:]
	switch l[0] {
	case '+':
		return simple(body), nil
	case '-':
		return nil, errors.New(body)
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return n, err
	case '_':
		return null{}, nil
	case ',':
		return double(body), nil
	case '#':
		return boolean(body == "t"), nil
	case '$', '=':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return null{}, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return nil, err
		}
		if l[0] == '=' {
			return verbatim(b[:n]), nil
		}
		return string(b[:n]), nil
	case '*', '~', '%', '>':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return null{}, nil
		}
		if l[0] == '%' {
			n *= 2
		}
		items := make([]any, 0, n)
		for i := 0; i < n; i++ {
			v, err := c.read()
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		switch l[0] {
		case '~':
			return setValue(items), nil
		case '%':
			return mapValue(items), nil
		}
		return items, nil
	}
	return nil, fmt.Errorf("unknown reply type %q", l[0])
}

// encode turns a reply into its JSON form (see the package comment).
func encode(v any) any {
	list := func(items []any) []any {
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = encode(it)
		}
		return out
	}
	switch x := v.(type) {
	case string, int64:
		return x
	case null:
		return nil
	case simple:
		return map[string]any{"+": string(x)}
	case double:
		return map[string]any{",": string(x)}
	case boolean:
		return map[string]any{"#": bool(x)}
	case verbatim:
		return map[string]any{"=": string(x)}
	case []any:
		return list(x)
	case mapValue:
		return map[string]any{"%": list(x)}
	case setValue:
		return map[string]any{"~": list(x)}
	}
	panic(fmt.Sprintf("unexpected value %T", v))
}

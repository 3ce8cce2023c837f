package redistests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrSetup is returned by Run when the target cannot be prepared (connection or FLUSHALL failed).
var ErrSetup = errors.New("redistests: setup failed")

// Line prefixes of a transcript file.
const (
	prefixCommand = "> "
	prefixTitle   = "=== "
	prefixComment = "#"
	prefixDirect  = "@"
	mainConn      = "main"
)

// Transcript is one parsed transcript file: a sequence of items, each either a verbatim line
// (blank line, comment, title, directive) or a command with its expected reply.
type Transcript struct {
	// Name is the file's base name, e.g. "strings.txt".
	Name  string
	Items []Item
}

// Item is one element of a transcript.
type Item struct {
	// Line is the 1-based line number of the item's first line.
	Line int
	// Raw is the verbatim text of a non-command line; empty for a command.
	Raw string
	// Cmd is the command text after "> "; empty for a non-command line.
	Cmd string
	// Args is Cmd split into arguments (SplitArgs).
	Args [][]byte
	// Want is the expected reply; nil when the transcript has none yet (it is then recorded
	// by a rewrite, and is a mismatch otherwise).
	Want *Pattern
	// Unchecked items are sent but their replies are not compared: they
	// belong to a section that uses a command the target lacks (Without).
	Unchecked bool
}

// IsCommand reports whether the item is a command.
func (it Item) IsCommand() bool { return it.Cmd != "" }

// ParseFile reads and parses a transcript file.
func ParseFile(path string) (*Transcript, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(filepath.Base(path), string(b))
}

// Parse parses transcript text. name is used in error messages.
func Parse(name, text string) (*Transcript, error) {
	tr := &Transcript{Name: name}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		n := i + 1
		switch {
		case strings.HasPrefix(l, prefixCommand):
			cmd := l[len(prefixCommand):]
			args, err := SplitArgs(cmd)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, n, err)
			}
			if len(args) == 0 {
				return nil, fmt.Errorf("%s:%d: %w: empty command", name, n, ErrSyntax)
			}
			it := Item{Line: n, Cmd: cmd, Args: args}
			j := i + 1
			for j < len(lines) && isReplyLine(lines[j]) {
				j++
			}
			if j > i+1 {
				p, err := ParsePattern(lines[i+1:j], i+2)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				it.Want = p
			}
			tr.Items = append(tr.Items, it)
			i = j - 1
		case l == "" || strings.HasPrefix(l, prefixComment) || strings.HasPrefix(l, prefixTitle):
			tr.Items = append(tr.Items, Item{Line: n, Raw: l})
		case strings.HasPrefix(l, prefixDirect):
			if _, _, err := parseDirective(l); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, n, err)
			}
			tr.Items = append(tr.Items, Item{Line: n, Raw: l})
		default:
			return nil, fmt.Errorf("%s:%d: %w: unexpected line %q (reply lines must follow a command)", name, n, ErrSyntax, l)
		}
	}
	return tr, nil
}

func isReplyLine(l string) bool {
	return l != "" && !strings.HasPrefix(l, prefixCommand) && !strings.HasPrefix(l, prefixTitle) &&
		!strings.HasPrefix(l, prefixComment) && !strings.HasPrefix(l, prefixDirect)
}

// parseDirective parses "@reconnect" (close the current connection and open a fresh one) and
// "@conn NAME" (switch to connection NAME, opened on first use).
func parseDirective(l string) (name, arg string, err error) {
	name, arg, _ = strings.Cut(strings.TrimPrefix(l, prefixDirect), " ")
	switch name {
	case "reconnect":
		if arg == "" {
			return name, arg, nil
		}
	case "conn":
		if arg != "" && !strings.Contains(arg, " ") {
			return name, arg, nil
		}
	}
	return "", "", fmt.Errorf("%w: bad directive %q (want @reconnect or @conn NAME)", ErrSyntax, l)
}

// Text returns the transcript as file text (parsing it again gives the same transcript).
func (tr *Transcript) Text() string {
	var b strings.Builder
	for _, it := range tr.Items {
		if !it.IsCommand() {
			b.WriteString(it.Raw + "\n")
			continue
		}
		b.WriteString(prefixCommand + it.Cmd + "\n")
		if it.Want != nil {
			for _, l := range it.Want.Lines() {
				b.WriteString(l + "\n")
			}
		}
	}
	return b.String()
}

// Commands returns the number of commands in the transcript.
func (tr *Transcript) Commands() int {
	n := 0
	for _, it := range tr.Items {
		if it.IsCommand() {
			n++
		}
	}
	return n
}

// Mismatch is one command whose reply did not match its expected reply.
type Mismatch struct {
	File    string
	Line    int
	Title   string
	Command string
	Want    []string
	Got     []string
}

// String renders the mismatch as a precise, multi-line diff.
func (m Mismatch) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: [%s] > %s\n  want:\n", m.File, m.Line, m.Title, m.Command)
	for _, l := range m.Want {
		b.WriteString("    " + l + "\n")
	}
	b.WriteString("  got:\n")
	for _, l := range m.Got {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// Result is the outcome of running one transcript.
type Result struct {
	Mismatches []Mismatch
	// Recorded is the transcript with every expected reply replaced by the actual reply,
	// except where the expected reply (matchers included) already matched: it is kept as is.
	Recorded *Transcript
}

// Run runs the transcript against the server at addr. The server's data is flushed first
// (FLUSHALL on a separate connection), then the transcript's commands run in order on a
// "main" connection (or the one chosen by @conn). A command whose connection fails is
// reported as a mismatch and its connection is reopened for the next command.
func Run(addr string, tr *Transcript) (Result, error) {
	setup, err := Dial(addr)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	v, err := setup.Do([]byte("FLUSHALL"))
	_ = setup.Close()
	if err != nil || Head(v) != "+OK" {
		return Result{}, fmt.Errorf("%w: FLUSHALL: %v %v", ErrSetup, Render(v), err)
	}

	conns := map[string]*Conn{}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	cur := mainConn
	title := ""
	res := Result{Recorded: &Transcript{Name: tr.Name}}
	for _, it := range tr.Items {
		if !it.IsCommand() {
			res.Recorded.Items = append(res.Recorded.Items, it)
			switch {
			case strings.HasPrefix(it.Raw, prefixTitle):
				title = strings.TrimPrefix(it.Raw, prefixTitle)
			case strings.HasPrefix(it.Raw, prefixDirect):
				name, arg, _ := parseDirective(it.Raw)
				if name == "conn" {
					cur = arg
				} else if c := conns[cur]; c != nil {
					_ = c.Close()
					delete(conns, cur)
				}
			}
			continue
		}
		var got Value
		c := conns[cur]
		if c == nil {
			c, err = Dial(addr)
			if err == nil {
				conns[cur] = c
			}
		}
		if err == nil {
			got, err = c.Do(it.Args...)
			if err != nil {
				_ = c.Close()
				delete(conns, cur)
			}
		}
		rec := it
		if err != nil {
			gotLines := []string{"(io error: " + err.Error() + ")"}
			var want []string
			if it.Want != nil {
				want = it.Want.Lines()
			}
			res.Mismatches = append(res.Mismatches, Mismatch{tr.Name, it.Line, title, it.Cmd, want, gotLines})
			res.Recorded.Items = append(res.Recorded.Items, rec)
			err = nil
			continue
		}
		if it.Unchecked {
			res.Recorded.Items = append(res.Recorded.Items, rec)
			continue
		}
		if it.Want == nil || !it.Want.Match(got) {
			var want []string
			if it.Want != nil {
				want = it.Want.Lines()
			}
			res.Mismatches = append(res.Mismatches, Mismatch{tr.Name, it.Line, title, it.Cmd, want, Render(got)})
			rec.Want, _ = ParsePattern(Render(got), it.Line+1)
		}
		res.Recorded.Items = append(res.Recorded.Items, rec)
	}
	return res, nil
}

package redistests

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Pattern is the expected reply of one command: a literal rendering (see Head), possibly with
// matchers in place of some values. Matchers are lines starting with '?':
//
//	?any              any single value (aggregates included)
//	?int              any integer            ?int LO..HI   an integer in [LO, HI]
//	?bulk             any non-null bulk      ?bulklen N    a bulk string of N bytes
//	?double           any RESP3 double
//	?re REGEX         a bulk, simple or verbatim string whose text matches REGEX (Go syntax, unanchored)
//	?err REGEX        an error whose text matches REGEX
//	?unordered HEAD   an aggregate whose head line is HEAD (e.g. *3, ~2, %2) and whose elements,
//	                  given on the following indented lines, match in any order (map pairs move together)
type Pattern struct {
	Text     string
	Line     int
	Children []*Pattern
}

// ParsePattern parses the reply lines of one command. firstLine is the file line number of
// lines[0], used in error messages.
func ParsePattern(lines []string, firstLine int) (*Pattern, error) {
	nodes, next, err := parseNodes(lines, 0, "", firstLine)
	if err != nil {
		return nil, err
	}
	if next != len(lines) {
		return nil, fmt.Errorf("%w: line %d: bad indentation", ErrSyntax, firstLine+next)
	}
	if len(nodes) != 1 {
		return nil, fmt.Errorf("%w: line %d: want exactly one top-level reply, got %d", ErrSyntax, firstLine, len(nodes))
	}
	return nodes[0], nil
}

func parseNodes(lines []string, i int, indent string, firstLine int) ([]*Pattern, int, error) {
	var nodes []*Pattern
	for i < len(lines) {
		l := lines[i]
		if !strings.HasPrefix(l, indent) {
			break
		}
		body := l[len(indent):]
		if strings.HasPrefix(body, " ") {
			return nil, i, fmt.Errorf("%w: line %d: bad indentation", ErrSyntax, firstLine+i)
		}
		p := &Pattern{Text: body, Line: firstLine + i}
		if err := p.check(); err != nil {
			return nil, i, err
		}
		kids, next, err := parseNodes(lines, i+1, indent+indentUnit, firstLine)
		if err != nil {
			return nil, next, err
		}
		p.Children = kids
		nodes = append(nodes, p)
		i = next
	}
	return nodes, i, nil
}

// check validates a matcher line's arguments so that mistakes surface when parsing.
func (p *Pattern) check() error {
	if !strings.HasPrefix(p.Text, "?") {
		return nil
	}
	name, arg, _ := strings.Cut(p.Text[1:], " ")
	bad := func(why string) error {
		return fmt.Errorf("%w: line %d: matcher %q: %s", ErrSyntax, p.Line, p.Text, why)
	}
	switch name {
	case "any", "bulk", "double":
		if arg != "" {
			return bad("takes no argument")
		}
	case "int":
		if arg != "" {
			if _, _, err := parseRange(arg); err != nil {
				return bad(err.Error())
			}
		}
	case "bulklen":
		if _, err := strconv.Atoi(arg); err != nil {
			return bad("want a length")
		}
	case "re", "err":
		if _, err := regexp.Compile(arg); err != nil {
			return bad(err.Error())
		}
	case "unordered":
		if arg == "" {
			return bad("want an aggregate head such as *3")
		}
	default:
		return bad("unknown matcher")
	}
	return nil
}

func parseRange(s string) (lo, hi int64, err error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return 0, 0, fmt.Errorf("want LO..HI")
	}
	if lo, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, err
	}
	if hi, err = strconv.ParseInt(b, 10, 64); err != nil {
		return 0, 0, err
	}
	return lo, hi, nil
}

// Lines returns the pattern as transcript lines (the inverse of ParsePattern).
func (p *Pattern) Lines() []string {
	var out []string
	var walk func(q *Pattern, indent string)
	walk = func(q *Pattern, indent string) {
		out = append(out, indent+q.Text)
		for _, c := range q.Children {
			walk(c, indent+indentUnit)
		}
	}
	walk(p, "")
	return out
}

// HasMatcher reports whether any line of the pattern is a matcher.
func (p *Pattern) HasMatcher() bool {
	if strings.HasPrefix(p.Text, "?") {
		return true
	}
	for _, c := range p.Children {
		if c.HasMatcher() {
			return true
		}
	}
	return false
}

// Match reports whether v satisfies the pattern.
func (p *Pattern) Match(v Value) bool {
	if !strings.HasPrefix(p.Text, "?") {
		if Head(v) != p.Text || len(v.Elems) != len(p.Children) {
			return false
		}
		for i, c := range p.Children {
			if !c.Match(v.Elems[i]) {
				return false
			}
		}
		return true
	}
	name, arg, _ := strings.Cut(p.Text[1:], " ")
	switch name {
	case "any":
		return true
	case "int":
		if v.Kind != ':' {
			return false
		}
		if arg == "" {
			return true
		}
		lo, hi, _ := parseRange(arg)
		return v.Int >= lo && v.Int <= hi
	case "bulk":
		return v.Kind == '$' && !v.Null
	case "bulklen":
		n, _ := strconv.Atoi(arg)
		return v.Kind == '$' && !v.Null && len(v.Str) == n
	case "double":
		return v.Kind == ','
	case "re":
		if (v.Kind != '$' || v.Null) && v.Kind != '+' && v.Kind != '=' {
			return false
		}
		return regexp.MustCompile(arg).MatchString(v.Str)
	case "err":
		return v.Kind == '-' && regexp.MustCompile(arg).MatchString(v.Str)
	case "unordered":
		if Head(v) != arg || len(v.Elems) != len(p.Children) {
			return false
		}
		group := 1
		if v.Kind == '%' {
			group = 2
		}
		return matchUnordered(p.Children, v.Elems, group)
	}
	return false
}

// matchUnordered matches groups of `group` consecutive patterns against groups of values in
// any order, each value group used once (backtracking; transcripts keep these small).
func matchUnordered(pats []*Pattern, vals []Value, group int) bool {
	n := len(vals) / group
	used := make([]bool, n)
	var try func(pi int) bool
	try = func(pi int) bool {
		if pi == n {
			return true
		}
		for vi := 0; vi < n; vi++ {
			if used[vi] {
				continue
			}
			ok := true
			for k := 0; k < group && ok; k++ {
				ok = pats[pi*group+k].Match(vals[vi*group+k])
			}
			if ok {
				used[vi] = true
				if try(pi + 1) {
					return true
				}
				used[vi] = false
			}
		}
		return false
	}
	return try(0)
}

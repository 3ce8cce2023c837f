package redistests

import (
	"bufio"
	"os"
	"strings"
)

// Without returns a copy of tr in which the titled sections that run any of
// the given commands (lower-case names) are unchecked, and their titles.
// Their commands are still sent, so the state later sections rely on is the
// same; only their replies are not compared. A section is checked or not as
// a whole, since later commands of a section depend on its earlier ones.
func (tr *Transcript) Without(commands map[string]bool) (*Transcript, []string) {
	out := &Transcript{Name: tr.Name}
	var skipped []string
	var section []Item
	title := ""
	drop := false
	flush := func() {
		if drop {
			skipped = append(skipped, title)
			for i := range section {
				section[i].Unchecked = true
			}
		}
		out.Items = append(out.Items, section...)
		section, drop = nil, false
	}
	for _, it := range tr.Items {
		if strings.HasPrefix(it.Raw, prefixTitle) {
			flush()
			title = strings.TrimPrefix(it.Raw, prefixTitle)
		}
		if it.IsCommand() && len(it.Args) > 0 && commands[strings.ToLower(string(it.Args[0]))] {
			drop = true
		}
		section = append(section, it)
	}
	flush()
	return out, skipped
}

// ReadCommandList reads a file of command names, one per line; blank lines
// and lines starting with '#' are ignored.
func ReadCommandList(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	set := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = true
	}
	return set, sc.Err()
}

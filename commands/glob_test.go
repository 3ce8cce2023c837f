package commands

import (
	"testing"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pat, str string
		nocase   bool
		want     bool
	}{
		{"*", "", false, false}, // Redis: an empty string matches only ""
		{"*", "anything", false, true},
		{"", "", false, true},
		{"", "a", false, false},
		{"a", "", false, false},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h*llo", "hllo", false, true},
		{"h*llo", "heeeello", false, true},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hbllo", false, true}, // reversed range
		{"h[a-b]llo", "hcllo", false, false},
		{`h\*llo`, "h*llo", false, true},
		{`h\*llo`, "hello", false, false},
		{`h[\]]llo`, "h]llo", false, true},
		{`h[\-]llo`, "h-llo", false, true},
		{"[", "a", false, false},
		{"[a", "a", false, true}, // unterminated class runs to the end
		{"[a-", "a", false, true},
		{`\`, `\`, false, true},
		{"a*", "a", false, true},
		{"a**", "a", false, true},
		{"*a*b", "xaxb", false, true},
		{"*a*b", "xaxc", false, false},
		{"HELLO", "hello", true, true},
		{"HELLO", "hello", false, false},
		{"[A-Z]", "q", true, true},
		{"[^]", "x", false, true}, // checked against redis-server 7.0.15
		{"[]", "x", false, false},
		{"a[", "a", false, false},
	}
	for _, tc := range cases {
		if got := GlobMatch([]byte(tc.pat), []byte(tc.str), tc.nocase); got != tc.want {
			t.Errorf("GlobMatch(%q, %q, %v) = %v, want %v", tc.pat, tc.str, tc.nocase, got, tc.want)
		}
	}
}

// refGlob is a plain backtracking matcher for patterns made only of
// literals, '?' and '*' (no classes, no escapes).
func refGlob(p, s string) bool {
	// Memoized on the suffixes' lengths: plain recursion is exponential
	// in the number of stars ("***...*A" hung the fuzz smoke).
	memo := map[[2]int]bool{}
	var match func(p, s string) bool
	match = func(p, s string) bool {
		key := [2]int{len(p), len(s)}
		if v, ok := memo[key]; ok {
			return v
		}
		var r bool
		switch {
		case p == "":
			r = s == ""
		case p[0] == '*':
			for i := 0; i <= len(s) && !r; i++ {
				r = match(p[1:], s[i:])
			}
		case p[0] == '?':
			r = s != "" && match(p[1:], s[1:])
		default:
			r = s != "" && s[0] == p[0] && match(p[1:], s[1:])
		}
		memo[key] = r
		return r
	}
	return match(p, s)
}

func FuzzGlobMatch(f *testing.F) {
	for _, s := range []string{"*", "a*b", "h?llo", "[a-z]*", `\[`, "[^", "***a", "*?*?"} {
		f.Add(s, "hello", false)
	}
	f.Fuzz(func(t *testing.T, pat, str string, nocase bool) {
		if len(pat) > 64 || len(str) > 64 {
			return
		}
		got := GlobMatch([]byte(pat), []byte(str), nocase) // must not panic
		simple := true
		for i := 0; i < len(pat); i++ {
			if pat[i] == '[' || pat[i] == '\\' {
				simple = false
			}
		}
		want := refGlob(pat, str)
		if str == "" {
			want = pat == "" // stringmatchlen never enters its loop
		}
		if simple && !nocase && got != want {
			t.Fatalf("GlobMatch(%q, %q) = %v, reference says %v", pat, str, got, !got)
		}
	})
}

// Abusive patterns end quickly thanks to the skip-longer-matches rule.
func TestGlobMatchPathological(t *testing.T) {
	pat := []byte("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
	str := make([]byte, 200)
	for i := range str {
		str[i] = 'a'
	}
	if GlobMatch(pat, str, false) {
		t.Fatal("matched")
	}
}

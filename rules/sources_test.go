package rules

import "testing"

func TestSources(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		source   string
		want     bool
	}{
		// Exact patterns.
		{[]string{"genesys.cloud"}, "genesys.cloud", true},
		{[]string{"genesys.cloud"}, "Genesys.Cloud", false},
		{[]string{"genesys.cloud"}, "genesys.cloud ", false},
		{[]string{"genesys.cloud"}, "genesys.clouds", false},
		{[]string{"genesys.cloud"}, "xgenesys.cloud", false},
		{[]string{"genesys.cloud"}, "", false},
		{[]string{"genesys.c?oud"}, "genesys.cloud", false}, // only * is special
		{[]string{"genesys.c?oud"}, "genesys.c?oud", true},
		// The Genesys partner source: * spans the organisation id and the suffix.
		{[]string{"aws.partner/genesys.com/*"}, "aws.partner/genesys.com/cloud/5f2c8a41-7d3e-4b9a-9c61-2e8f0a4b7d13/cx-analytics-prod", true},
		{[]string{"aws.partner/genesys.com/*"}, "aws.partner/genesys.com/cloud/org/suffix", true},
		{[]string{"aws.partner/genesys.com/*"}, "aws.partner/genesys.com/x", true},
		{[]string{"aws.partner/genesys.com/*"}, "aws.partner/genesys.com/", true}, // * matches the empty run
		{[]string{"aws.partner/genesys.com/*"}, "aws.partner/genesys.com", false},
		{[]string{"aws.partner/genesys.com/*"}, "aws.partner/genesys.comX", false},
		{[]string{"aws.partner/genesys.com/*"}, "aws.partner/genesys.comX/cloud/org/suffix", false},
		{[]string{"aws.partner/genesys.com/*"}, "aws.partner/evil.com/aws.partner/genesys.com/cloud", false},
		{[]string{"aws.partner/genesys.com/*"}, "xaws.partner/genesys.com/cloud", false},
		// A pinned organisation with any suffix.
		{[]string{"aws.partner/genesys.com/cloud/org-1/*"}, "aws.partner/genesys.com/cloud/org-1/prod", true},
		{[]string{"aws.partner/genesys.com/cloud/org-1/*"}, "aws.partner/genesys.com/cloud/org-12/prod", false},
		// * in the middle and at both ends.
		{[]string{"aws.partner/genesys.com/cloud/*/prod"}, "aws.partner/genesys.com/cloud/org/prod", true},
		{[]string{"aws.partner/genesys.com/cloud/*/prod"}, "aws.partner/genesys.com/cloud/a/b/prod", true},
		{[]string{"aws.partner/genesys.com/cloud/*/prod"}, "aws.partner/genesys.com/cloud/org/prod2", false},
		{[]string{"aws.partner/genesys.com/cloud/*/prod"}, "aws.partner/genesys.com/cloud/prod", false},
		{[]string{"*.cloud"}, "genesys.cloud", true},
		{[]string{"*.cloud"}, ".cloud", true},
		{[]string{"*.cloud"}, "genesys.cloudy", false},
		{[]string{"*"}, "", true},
		{[]string{"*"}, "anything/at/all", true},
		{[]string{"**"}, "x", true},
		{[]string{"a*b*c"}, "abc", true},
		{[]string{"a*b*c"}, "a-b-c", true},
		{[]string{"a*b*c"}, "acb", false},
		{[]string{"a*b*c"}, "abcbc", true},
		{[]string{"a*b*c"}, "ab", false},
		// Prefix and suffix must not overlap.
		{[]string{"ab*ba"}, "aba", false},
		{[]string{"ab*ba"}, "abba", true},
		{[]string{"a*a"}, "a", false},
		{[]string{"a*a"}, "aa", true},
		{[]string{"a*a*a"}, "aaa", true},
		{[]string{"a*a*a"}, "aa", false},
		// Several patterns: any one is enough.
		{[]string{"genesys.cloud", "aws.partner/genesys.com/*"}, "genesys.cloud", true},
		{[]string{"genesys.cloud", "aws.partner/genesys.com/*"}, "aws.partner/genesys.com/cloud/o/s", true},
		{[]string{"genesys.cloud", "aws.partner/genesys.com/*"}, "acme.billing", false},
		{nil, "genesys.cloud", false},
	} {
		s, err := NewSources(tc.patterns)
		if err != nil {
			t.Fatalf("NewSources(%q): %v", tc.patterns, err)
		}
		if got := s.Allowed(tc.source); got != tc.want {
			t.Errorf("%q allows %q = %v, want %v", tc.patterns, tc.source, got, tc.want)
		}
	}
}

func TestSourcesEmptyPattern(t *testing.T) {
	if _, err := NewSources([]string{"genesys.cloud", ""}); err == nil || err.Error() != "empty pattern" {
		t.Fatalf("NewSources with an empty pattern: %v", err)
	}
}

// TestSourcesMatchesReference compares match with a plain recursive glob over
// short strings built from the pattern alphabet.
func TestSourcesMatchesReference(t *testing.T) {
	alphabet := []byte("ab/*")
	var patterns, inputs []string
	var gen func(prefix []byte, n int, out *[]string, alpha []byte)
	gen = func(prefix []byte, n int, out *[]string, alpha []byte) {
		*out = append(*out, string(prefix))
		if n == 0 {
			return
		}
		for _, c := range alpha {
			gen(append(prefix, c), n-1, out, alpha)
		}
	}
	gen(nil, 4, &patterns, alphabet)
	gen(nil, 5, &inputs, alphabet[:3])
	for _, p := range patterns {
		if p == "" {
			continue
		}
		s, err := NewSources([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range inputs {
			if got, want := s.Allowed(in), globRef(p, in); got != want {
				t.Fatalf("pattern %q, source %q: Allowed = %v, want %v", p, in, got, want)
			}
		}
	}
}

// globRef is the textbook definition: * matches any run (empty included).
func globRef(p, s string) bool {
	if p == "" {
		return s == ""
	}
	if p[0] == '*' {
		for i := 0; i <= len(s); i++ {
			if globRef(p[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	return s != "" && s[0] == p[0] && globRef(p[1:], s[1:])
}

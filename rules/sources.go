package rules

import (
	"errors"
	"strings"
)

// Sources is the envelope.source allow-list. A pattern's '*' matches any run of
// characters, '/' included; other characters match themselves.
type Sources struct {
	patterns [][]string // each pattern split at '*'
}

// NewSources compiles patterns.
func NewSources(patterns []string) (*Sources, error) {
	s := &Sources{}
	for _, p := range patterns {
		if p == "" {
			return nil, errors.New("empty pattern")
		}
		s.patterns = append(s.patterns, strings.Split(p, "*"))
	}
	return s, nil
}

// Allowed reports whether source matches any pattern.
func (s *Sources) Allowed(source string) bool {
	for _, parts := range s.patterns {
		if match(parts, source) {
			return true
		}
	}
	return false
}

func match(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

package rules

import "testing"

// TestUnion: the union of two Sets' reads is what one Set of both sets'
// expressions reads, and its paths can be looked up.
func TestUnion(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	access := func(exprs ...string) *Access {
		s := &Set{access: newAccess()}
		for _, e := range exprs {
			if _, err := s.compile(env, e, nil); err != nil {
				t.Fatal(err)
			}
		}
		return s.Access()
	}
	for _, tc := range []struct{ a, b []string }{
		{[]string{`detail.a.b == 1`}, []string{`detail.a.c == 2`}},
		{[]string{`detail.a.b == 1`}, []string{`detail.a == {}`}},
		{[]string{`detail.a == {}`, `detail.x.?y.orValue(0) > 1`}, []string{`detail.a.b.c == 1`, `detail.x.z == 2`}},
		{[]string{`event.source == "s"`}, []string{`event.detail.k == 1`, `detail.q == 1`}},
		{[]string{`size(event) > 0`}, []string{`detail.a.b == 1`}},
		{[]string{`true`}, []string{`true`}},
	} {
		want := describe(access(append(tc.a, tc.b...)...))
		u := Union(access(tc.a...), access(tc.b...))
		if got := describe(u); got != want {
			t.Errorf("Union(%q, %q) = %s, want %s", tc.a, tc.b, got, want)
		}
		if rev := describe(Union(access(tc.b...), access(tc.a...))); rev != want {
			t.Errorf("Union(%q, %q) = %s, want %s", tc.b, tc.a, rev, want)
		}
		for name, p := range u.Detail.Fields {
			if u.Detail.Lookup([]byte(name)) != p {
				t.Errorf("Lookup(%s) does not find the union's path", name)
			}
		}
	}
}

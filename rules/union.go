package rules

// Union returns an Access that reads everything a or b reads: one decoding of
// an event then serves the expressions of both (comparing two configurations
// over the same events).
func Union(a, b *Access) *Access {
	u := newAccess()
	for _, x := range []*Access{a, b} {
		u.Event = u.Event || x.Event
		for k := range x.EventFields {
			u.EventFields[k] = true
		}
		u.mergePath(x.Detail, nil)
	}
	if u.Event {
		u.Detail.All, u.Detail.Fields, u.Detail.list = true, nil, nil
	}
	return u
}

// mergePath records the reads of the tree p, found at path below detail.
func (a *Access) mergePath(p *Path, path []string) {
	if p.All {
		a.record("detail", path)
		return
	}
	for _, f := range p.Fields {
		a.mergePath(f, append(path[:len(path):len(path)], f.Name))
	}
}

package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// `check --summary` and `check --diff`: what a configuration (or a change to it)
// does to many events — a day of captured traffic — before it goes live. Events
// are streamed from the files and only decided (pipeline.Processor.Decide): no
// record is built, nothing is kept per event.

// verdict is what a configuration decides for one event.
type verdict struct {
	decision relay.Decision
	// reason is the rule or pass reason, or for a reject its cause.
	reason  string
	ruleErr bool
	key     string // the partition key, for --diff
	id      string
}

func toVerdict(out pipeline.Outcome, err error) verdict {
	if err != nil {
		return verdict{decision: relay.Reject, reason: relay.RejectReason(err), id: out.ID}
	}
	return verdict{decision: out.Decision, reason: out.Reason, ruleErr: out.RuleErr != nil, key: out.Record.PartitionKey, id: out.ID}
}

// label names v's decision and reason as the tables show them.
func (v verdict) label() string {
	s := v.decision.String() + " " + v.reason
	if v.ruleErr {
		s += " (rule error)"
	}
	return s
}

// tallyKey is one row of the summary. Route is empty while a configuration has
// one output; one with routes counts a forwarded event once for each route it
// goes to, under the route's name, and the table gains a route column.
type tallyKey struct {
	Route    string
	Decision relay.Decision
	Reason   string
	RuleErr  bool
}

// example is the first event counted in a row.
type example struct {
	n       int64
	id, at  string
	ordinal int64 // the event's position, to list rows of equal count stably
}

// tally counts events by row.
type tally[K comparable] struct {
	events int64
	rows   map[K]*example
}

func newTally[K comparable]() *tally[K] { return &tally[K]{rows: map[K]*example{}} }

// add counts the event numbered ordinal in row k.
func (t *tally[K]) add(k K, ordinal int64, id string, in *eventReader, line int) {
	r := t.rows[k]
	if r == nil {
		r = &example{id: id, at: in.Name + ":" + strconv.Itoa(line), ordinal: ordinal}
		t.rows[k] = r
	}
	r.n++
}

func runSummary(ctx context.Context, files []string, p, old *pipeline.Processor, summary bool, e env) int {
	if len(files) == 0 {
		fmt.Fprintln(e.stderr, "genesys-relay: check --summary and --diff need event files (or - for stdin)")
		return exitInvalid
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// Little lives long here (the tallies, a few buffers): collecting when
		// the heap has grown 5x instead of 2x costs a few megabytes and saves
		// about a tenth of the CPU (bench/check.sh).
		defer debug.SetGCPercent(debug.SetGCPercent(gcMaxPercent))
	}
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	sum := newTally[tallyKey]()
	changes := newTally[[2]string]()
	var both *pipeline.Comparison
	if old != nil {
		both = pipeline.NewComparison(p, old)
	}
	// With routes of its own, a configuration's forwarded events are counted
	// per route they take.
	var routes []string
	if p.Rules.Routed {
		for _, r := range p.Routes() {
			routes = append(routes, r.Name)
		}
	}
	var per [3]int64 // events by decision
	code := exitOK
	for _, path := range files {
		c := eachEvent(ctx, path, e, func(raw []byte, in *eventReader, line int) {
			n := sum.events
			sum.events++
			var v, was verdict
			var out pipeline.Outcome
			if both != nil {
				a, aErr, b, bErr := both.Decide(raw)
				out, v, was = a, toVerdict(a, aErr), toVerdict(b, bErr)
			} else {
				var err error
				out, err = p.Decide(raw, false)
				v = toVerdict(out, err)
			}
			if summary {
				per[v.decision]++
				k := tallyKey{Decision: v.decision, Reason: v.reason, RuleErr: v.ruleErr}
				if routes == nil || v.decision != relay.Forward {
					sum.add(k, n, v.id, in, line)
				} else {
					for _, r := range out.Routes() {
						k.Route = routes[r.Route]
						sum.add(k, n, v.id, in, line)
					}
				}
			}
			if both == nil || was == v {
				return
			}
			// A reject has no key, and a drop none either: a key differs only
			// between two forwards, or with the decision.
			from, to := was.label(), v.label()
			if was.decision == relay.Forward && v.decision == relay.Forward && was.key != v.key {
				fmt.Fprintf(w, "%s:%d %s: %s key %s -> key %s\n", in.Name, line, orNone(v.id, was.id), from, was.key, v.key)
				to += ", another partition key"
			} else {
				fmt.Fprintf(w, "%s:%d %s: %s -> %s\n", in.Name, line, orNone(v.id, was.id), from, to)
			}
			changes.add([2]string{from, to}, n, orNone(v.id, was.id), in, line)
		})
		code = max(code, c)
	}
	changes.events = sum.events
	if old != nil {
		writeChanges(w, changes)
	}
	if summary {
		if old != nil {
			fmt.Fprintln(w)
		}
		writeSummary(w, sum, per, len(files))
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
		return exitFailed
	}
	return code
}

// orNone returns the first id that is not empty, or "(no id)".
func orNone(ids ...string) string {
	for _, id := range ids {
		if id != "" {
			return id
		}
	}
	return "(no id)"
}

// table writes rows in columns two spaces apart, the columns in right
// right-aligned, without trailing spaces.
func table(w io.Writer, right map[int]bool, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case right[i]:
				b.WriteString(pad + c)
			case i == len(r)-1:
				b.WriteString(c)
			default:
				b.WriteString(c + pad)
			}
			if i < len(r)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// share formats n of total as a percentage.
func share(n, total int64) string {
	if total == 0 {
		return "-"
	}
	pc := 100 * float64(n) / float64(total)
	if pc > 0 && pc < 0.1 {
		return "<0.1%"
	}
	return strconv.FormatFloat(pc, 'f', 1, 64) + "%"
}

// sortedRows returns t's rows by the order less gives, then by count (largest
// first), then as first seen.
func sortedRows[K comparable](t *tally[K], less func(a, b K) int) []K {
	return slices.SortedFunc(maps.Keys(t.rows), func(a, b K) int {
		if c := less(a, b); c != 0 {
			return c
		}
		ra, rb := t.rows[a], t.rows[b]
		return cmp.Or(cmp.Compare(rb.n, ra.n), cmp.Compare(ra.ordinal, rb.ordinal))
	})
}

// decisionOrder lists forward first, then drop, then reject.
var decisionOrder = map[relay.Decision]int{relay.Forward: 0, relay.Drop: 1, relay.Reject: 2}

// writeSummary writes the totals per decision (per counts events by
// decision) and the table of t's rows. A forwarded event of a configuration
// with routes is in one row per route it takes, so the forward rows' shares
// may add up to more than the forward total.
func writeSummary(w io.Writer, t *tally[tallyKey], per [3]int64, files int) {
	routes := false
	for k := range t.rows {
		routes = routes || k.Route != ""
	}
	fmt.Fprintf(w, "%d events in %d file%s:", t.events, files, plural(files))
	sep := " "
	for _, d := range []relay.Decision{relay.Forward, relay.Drop, relay.Reject} {
		fmt.Fprintf(w, "%s%d %s (%s)", sep, per[d], d, share(per[d], t.events))
		sep = ", "
	}
	fmt.Fprint(w, "\n\n")
	head := []string{"decision", "reason", "events", "share", "example", "at"}
	right := map[int]bool{2: true, 3: true}
	if routes {
		head = append([]string{"route"}, head...)
		right = map[int]bool{3: true, 4: true}
	}
	rows := [][]string{head}
	keys := sortedRows(t, func(a, b tallyKey) int {
		return cmp.Or(cmp.Compare(decisionOrder[a.Decision], decisionOrder[b.Decision]), cmp.Compare(a.Route, b.Route))
	})
	for _, k := range keys {
		r := t.rows[k]
		reason := k.Reason
		if k.RuleErr {
			reason += " (rule error)"
		}
		row := []string{k.Decision.String(), reason, strconv.FormatInt(r.n, 10), share(r.n, t.events), r.id, r.at}
		if routes {
			row = append([]string{k.Route}, row...)
		}
		rows = append(rows, row)
	}
	table(w, right, rows)
}

func writeChanges(w io.Writer, t *tally[[2]string]) {
	var changed int64
	for _, r := range t.rows {
		changed += r.n
	}
	if changed == 0 {
		fmt.Fprintf(w, "no event changes decision, reason or partition key (%d events)\n", t.events)
		return
	}
	fmt.Fprintf(w, "\n%d of %d events change (%s):\n\n", changed, t.events, share(changed, t.events))
	rows := [][]string{{"events", "share", "old", "new", "example", "at"}}
	for _, k := range sortedRows(t, func(a, b [2]string) int { return 0 }) {
		r := t.rows[k]
		rows = append(rows, []string{strconv.FormatInt(r.n, 10), share(r.n, t.events), k[0], k[1], r.id, r.at})
	}
	table(w, map[int]bool{0: true, 1: true}, rows)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

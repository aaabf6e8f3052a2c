package envelope

import (
	"bytes"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/shapes"
	"github.com/genesys-relay/genesys-relay/rules"
)

// cost is what decoding one body took.
type cost struct {
	work   int    // key comparisons and index probes (arena.work)
	used   int    // bytes charged to the budget (arena.used)
	alloc  uint64 // bytes the runtime allocated meanwhile
	allocs uint64 // allocations the runtime made meanwhile
	err    error
}

// measure decodes raw as acc asks with the given limit (0: the budget).
func measure(raw []byte, acc *rules.Access, limit int) cost {
	st := &Decoding{limit: limit}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := st.Decode(raw, acc)
	runtime.ReadMemStats(&after)
	return cost{work: st.d.s.arena.work, used: st.d.s.arena.used, err: err,
		alloc: after.TotalAlloc - before.TotalAlloc, allocs: after.Mallocs - before.Mallocs}
}

// TestDecodeLinear decodes every pathological shape at n, 4n and 16n bytes,
// with everything read and with what the example rules read, without a
// budget, and checks that the decoder's work and memory grow linearly with
// the body: the key comparisons and index probes, the bytes charged, and the
// bytes and allocations the runtime reports. Stacks, chunks and tables grow
// by doubling, so the cost per byte may vary by a step of two between sizes,
// never grow with them: a decoder that compares each key with every earlier
// one (quadratic) costs four times as much per byte at 4n and sixteen times
// at 16n. The last check ties the work to the body: at most a few steps per
// byte. Nothing here is timed.
func TestDecodeLinear(t *testing.T) {
	const n = 64 << 10
	example := exampleAccess(t, "relay.yaml")
	for _, sh := range shapes.All {
		for _, acc := range []struct {
			name string
			acc  *rules.Access
		}{{"all", rules.FullAccess()}, {"example", example}} {
			base := sh.Build(n)
			a := measure(base, acc.acc, math.MaxInt)
			for _, k := range []int{4, 16} {
				raw := sh.Build(k * n)
				b := measure(raw, acc.acc, math.MaxInt)
				if (a.err == nil) != (b.err == nil) {
					t.Fatalf("%s (%s): %v at %d bytes, %v at %d", sh.Name, acc.name, a.err, len(base), b.err, len(raw))
				}
				ratio := float64(len(raw)) / float64(len(base))
				for _, m := range []struct {
					what string
					a, b float64
				}{
					{"work", float64(a.work), float64(b.work)},
					{"bytes charged", float64(a.used), float64(b.used)},
					{"bytes allocated", float64(a.alloc), float64(b.alloc)},
					{"allocations", float64(a.allocs), float64(b.allocs)},
				} {
					if m.b > 2.5*ratio*m.a+64<<10 {
						t.Errorf("%s (%s): %s %.0f at %d bytes, %.0f at %d: grows faster than the body",
							sh.Name, acc.name, m.what, m.a, len(base), m.b, len(raw))
					}
				}
				if b.work > 4*len(raw) {
					t.Errorf("%s (%s): %d steps for %d bytes", sh.Name, acc.name, b.work, len(raw))
				}
				if k == 16 {
					t.Logf("%-22s %-7s %8d bytes: work %8d  charged %9d  allocated %9d  allocs %7d  %v",
						sh.Name, acc.name, len(raw), b.work, b.used, b.alloc, b.allocs, b.err)
				}
			}
		}
	}
}

// TestDecodeBudget: with the budget, every pathological shape of 1 MB is
// either decoded or refused as decoded_too_large (or for what it is: a key
// given twice, a number beyond float64), the runtime never
// allocates much beyond the budget for it, and the charge covers what the
// runtime allocates.
func TestDecodeBudget(t *testing.T) {
	const size = 1 << 20
	example := exampleAccess(t, "relay.yaml")
	for _, sh := range shapes.All {
		raw := sh.Build(size)
		for _, acc := range []*rules.Access{rules.FullAccess(), example} {
			c := measure(raw, acc, 0)
			switch why := relay.RejectReason(c.err); {
			case c.err == nil, why == "decoded_too_large" && !strings.HasPrefix(sh.Name, "ordinary"):
			case why == "duplicate_key" && sh.Name == "top-dup-keys":
			case why == "number_out_of_range" && sh.Name == "read-long-number":
			default:
				t.Errorf("%s: %v", sh.Name, c.err)
			}
			if limit := budget(len(raw)); c.alloc > uint64(limit)+64<<10 {
				t.Errorf("%s: %d bytes allocated, budget %d", sh.Name, c.alloc, limit)
			}
			if c.alloc > uint64(c.used)+64<<10 {
				t.Errorf("%s: %d bytes allocated, %d charged: the charge misses allocations", sh.Name, c.alloc, c.used)
			}
		}
	}
}

// ordinaryEvent is an envelope of about size bytes whose detail holds the
// details of the sample events, over and over: ordinary JSON.
func ordinaryEvent(t testing.TB, size int) []byte {
	var details [][]byte
	for _, raw := range valueEvents(t) {
		if env, _, err := decode(raw, nil); err == nil && len(env.Detail) > 2 {
			details = append(details, bytes.Clone(env.Detail))
		}
	}
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < size-600; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(details[i%len(details)])
	}
	b.WriteString(`]}`)
	return envelopeJSON("ordinary", b.String())
}

// TestDecodeBudgetOrdinary: ordinary JSON read in full by the rules takes
// about twice its size decoded, well within the budget (budgetFactor).
func TestDecodeBudgetOrdinary(t *testing.T) {
	for _, size := range []int{64 << 10, 1 << 20} {
		raw := ordinaryEvent(t, size)
		c := measure(raw, nil, 0)
		if c.err != nil {
			t.Fatalf("%d bytes of ordinary JSON: %v", len(raw), c.err)
		}
		if r := float64(c.used) / float64(len(raw)); r > budgetFactor/1.5 {
			t.Errorf("%d bytes of ordinary JSON take %.2f times their size decoded: too close to the budget (%d)", len(raw), r, budgetFactor)
		}
		t.Logf("%d bytes of ordinary JSON: %d charged (%.2f times)", len(raw), c.used, float64(c.used)/float64(len(raw)))
	}
}

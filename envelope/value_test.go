package envelope

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/jsonx"
	"github.com/genesys-relay/genesys-relay/internal/testx"
	"github.com/genesys-relay/genesys-relay/rules"
)

// valueExprs exercise what the rules can do with the event: selection, .?,
// has(), in, equality and ordering across types, size, the macros, string
// functions, conversions, indexing and the JSON written for maps and lists.
// The example configs' expressions are added to them. Results that depend on
// the iteration order of a map are avoided: encoding/json's maps had none.
var valueExprs = []string{
	`detail`, `event`, `detail.a`, `detail.s`, `detail.n`, `detail.b`, `detail.z`, `detail.list`, `detail.obj`,
	`detail.obj.x`, `detail.obj.y.z`, `detail.missing`, `detail.obj.missing`, `detail.s.x`, `detail.list.x`,
	`detail["a"]`, `detail["missing"]`, `detail[1]`, `detail[1.0]`, `detail[true]`,
	`detail.list[0]`, `detail.list[1]`, `detail.list[5]`, `detail.list[-1]`, `detail.list[1u]`, `detail.list[1.0]`,
	`detail.list[1.5]`, `detail.list["0"]`, `detail.obj[0]`, `detail.s[0]`,
	`detail.?a`, `detail.?missing`, `detail.?obj.?x`, `detail.?obj.?y.?z`, `detail.?s.?x`, `detail.?list.?x`,
	`detail.?list[?0]`, `detail.?list[?9]`, `detail[?"a"]`, `detail[?"missing"]`, `detail.list[?1]`, `detail.obj[?"x"]`,
	`detail.?a.orValue("none")`, `detail.?missing.orValue(null)`, `detail.?obj.orValue(null) != null`,
	`detail.?obj.?x.orValue(0.0)`, `detail.?a.hasValue()`, `detail.?missing.hasValue()`, `optional.of(detail.a).value()`,
	`detail.?obj.?y.value()`, `optional.ofNonZeroValue(detail.obj).hasValue()`, `optional.ofNonZeroValue(detail.list).hasValue()`,
	`optional.ofNonZeroValue(detail.s).hasValue()`, `optional.ofNonZeroValue(detail.empty).hasValue()`,
	`has(detail.a)`, `has(detail.missing)`, `has(detail.obj.x)`, `has(detail.obj.missing)`, `has(detail.s.x)`,
	`has(detail.list.x)`, `has(detail.n.x)`, `has(detail.z.x)`, `has(event.detail)`, `has(event.id)`, `has(event.nope)`,
	`"a" in detail`, `"missing" in detail`, `1 in detail`, `null in detail`, `detail.a in ["x", "y", 1.0, null]`,
	`detail.n in [1, 2, 3]`, `detail.n in [1u, 2u]`, `detail.n in [1.0, 2.5]`, `detail.s in detail.list`, `1 in detail.list`,
	`1.0 in detail.list`, `null in detail.list`, `"x" in detail.list`, `{"k": 1.0} in detail.list`, `[1.0] in detail.list`,
	`"x" in detail.obj`, `detail.a in ["", null]`, `detail.z in [null]`, `detail.obj in [detail.obj]`,
	`detail.a == "x"`, `detail.a != "x"`, `detail.a == 1`, `detail.a == 1.0`, `detail.a == 1u`, `detail.a == null`,
	`detail.a != null`, `detail.a == true`, `detail.a == [1]`, `detail.a == {}`, `detail.n == 1`, `detail.n == 1u`,
	`detail.n == "1"`, `detail.s == "1"`, `detail.z == null`, `null == detail.z`, `detail.z != null`, `detail.b == true`,
	`detail.b != false`, `detail.obj == {"x": 1.0}`, `detail.obj == {"x": 1}`, `{"x": 1.0} == detail.obj`,
	`detail.obj == detail.obj`, `detail.obj == detail.obj2`, `detail.obj != detail.obj2`, `detail.list == [1.0, "x"]`,
	`detail.list == [1, "x"]`, `[1, "x"] == detail.list`, `detail.list == detail.list`, `detail.list == detail.list2`,
	`detail == event.detail`, `event.detail == detail`, `detail == {}`, `detail.empty == {}`, `detail.empty == []`,
	`detail.obj == detail.list`, `detail.obj == {1: 2}`, `{1: 2} == detail.obj`, `detail.obj == {"x": 1.0, "y": null}`,
	`detail.n < 2`, `detail.n < 2u`, `detail.n < 2.5`, `detail.n >= 80.0`, `detail.n > "1"`, `detail.s < "m"`,
	`detail.s > detail.a`, `detail.b < true`, `detail.z < 1`, `detail.obj < 1`, `detail.list < 1`,
	`detail.n + 1.0`, `detail.n * 2.0`, `detail.n / 0.0`, `detail.n + 1`, `detail.s + "x"`, `detail.list + [1]`,
	`[1] + detail.list`, `detail.list + detail.list2`, `size(detail.list + [1])`, `(detail.list + [1])[0]`,
	`-detail.n`, `!detail.b`, `detail.b && detail.n > 0.0`, `detail.b || detail.missing`, `detail.missing || true`,
	`detail.a ? 1 : 2`, `detail.b ? detail.s : detail.n`, `has(detail.a) ? detail.a : "none"`,
	`size(detail)`, `size(detail.obj)`, `size(detail.list)`, `size(detail.s)`, `detail.s.size()`, `detail.list.size()`,
	`size(detail.n)`, `size(detail.z)`, `size(event)`, `size(event.resources)`, `size(detail.empty)`,
	`detail.exists(k, k == "a")`, `detail.all(k, k != "")`, `detail.exists_one(k, k == "s")`, `detail.all(k, detail[k] != null)`,
	`detail.exists(k, detail[k] == 1.0)`, `detail.all(k, size(detail[k]) >= 0)`, `detail.map(k, k).size()`,
	`detail.filter(k, k.startsWith("o")).size()`, `"a" in detail.map(k, k)`, `detail.obj.exists(k, detail.obj[k] == 1.0)`,
	`detail.obj.all(k, has(detail.obj.x))`, `detail.list.exists(x, x == 1.0)`, `detail.list.all(x, x != null)`,
	`detail.list.map(x, x)`, `detail.list.map(x, type(x))`, `detail.list.filter(x, type(x) == string)`,
	`detail.list.exists_one(x, x == "x")`, `detail.list.map(x, x == null ? 0 : 1)`, `detail.list.all(x, x > 0)`,
	`detail.n.exists(x, true)`, `detail.s.all(x, true)`, `detail.z.exists(x, true)`,
	`event.exists(k, k == "id")`, `event.all(k, k != "")`, `event.filter(k, k == "detail").size()`,
	`detail.s.startsWith("a")`, `detail.s.endsWith("x")`, `detail.s.contains("a")`, `detail.s.matches("^[a-z]+$")`,
	`detail.s.lowerAscii()`, `detail.s.upperAscii()`, `detail.s.split(".")`, `detail.s.replace("a", "b")`,
	`detail.s.trim()`, `detail.s.substring(1)`, `detail.s.charAt(0)`, `detail.s.indexOf("a")`, `detail.strs.join(",")`,
	`detail.list.join(",")`, `"%s".format([detail.s])`, `"%s".format([detail.list])`, `"%s".format([detail.obj])`,
	`"%s".format([detail])`, `"%d".format([detail.n])`, `"%.2f".format([detail.n])`, `detail.a.startsWith("x")`,
	`double(detail.s)`, `double(detail.n)`, `double(detail.a)`, `double(detail.z)`, `double(detail.obj)`,
	`int(detail.n)`, `int(detail.s)`, `uint(detail.n)`, `string(detail.n)`, `string(detail.s)`, `string(detail.b)`,
	`string(detail.obj)`, `string(detail.z)`, `bool(detail.s)`, `dyn(detail.n) == 1`, `type(detail)`, `type(detail.obj)`,
	`type(detail.list)`, `type(detail.s)`, `type(detail.n)`, `type(detail.z)`, `type(detail.b)`, `type(detail) == map`,
	`type(detail.list) == list`, `type(event)`, `math.greatest(detail.list)`, `math.least([detail.n, 2.0])`,
	`math.ceil(detail.n)`, `math.abs(detail.n)`, `math.greatest(detail.n, 3.0)`,
	`[detail.a, detail.s]`, `{"x": detail.obj, "y": detail.list}`, `{"k": detail.a}.k`, `[detail.obj][0].x`,
	`{detail.s: 1}`, `[detail][0].obj`, `detail.obj.y`, `detail.nested`, `detail.nested.deep.deeper`,
	`detail.nested.list[0].k`, `detail.?nested.?list[?0].?k.orValue("none")`, `has(detail.nested.list)`,
	`event.id`, `event.source`, `event["detail-type"]`, `event.resources`, `event.resources[0]`, `event.region`,
	`event.version`, `event.account`, `event.time`, `event.nope`, `event.?nope.orValue(1)`, `event.detail.obj.x`,
	`event.source.split("/")[3]`, `event["detail"]["a"]`, `"detail" in event`, `"nope" in event`, `event.resources == []`,
	`event.resources.exists(r, r.startsWith("arn"))`, `event.resources + ["x"]`, `event.resources.join(",")`,
	`event == event`, `event.detail.?a.orValue(detail.?s.orValue(""))`, `detail.esc`, `detail["k\u00e9y"]`,
	`detail.dup`, `detail.big`, `detail.neg`, `detail.exp`,
	`has(event.account)`, `has(event.region)`, `has(event.resources)`, `has(event.version)`, `event.region == null`,
	`event.?region.orValue("none")`, `event.?account.orValue("none")`, `event.resources == null`, `event.resources[1]`,
	`event["replay-name"]`, `event[?"replay-name"].orValue("")`, `"replay-name" in event`,
	`event.extra`, `event.extra.x`, `event.?extra.?x.orValue(0)`, `event.n`, `event.n + 1.0`, `event["k\u00e9y"]`,
	`event.exists(k, k == "replay-name")`, `event.all(k, has(event.id))`, `event.filter(k, k != "detail").size()`,
	`size(event.filter(k, event[k] == null))`, `event.map(k, type(event[k]))`, `event.version`, `event.time`,
}

// valueConfigs are the example configs whose expressions join valueExprs.
var valueConfigs = []string{"relay.yaml", "genesys-conversations.yaml"}

// valueDetails are detail objects that give valueExprs something to read.
var valueDetails = []string{
	`{}`,
	`{"a":"x","s":"abc.def","n":1,"b":true,"z":null,"list":[1,"x",null,true,{"k":1},[1]],"obj":{"x":1,"y":null},"obj2":{"y":null,"x":1},"list2":[1,"x",null,true,{"k":1},[1]],"strs":["a","b"],"empty":{}}`,
	`{"a":1,"s":"1","n":1.5,"b":false,"list":[],"obj":{},"empty":[],"strs":[],"list2":[2]}`,
	`{"a":null,"s":"","n":-0,"list":[1.0,1],"obj":{"x":"1","z":[]},"obj2":{"x":1}}`,
	`{"a":{"x":1},"s":"Zebra","n":80,"list":["x","y"],"obj":[1,2],"b":"true"}`,
	`{"a":[1],"s":"85","n":1e2,"list":[{"k":"v"}],"obj":{"x":{"x":1}},"obj2":{"x":{"x":1.0}}}`,
	`{"a":true,"s":"a.b.c","n":12345678901234567890,"big":1e308,"neg":-1.5e-300,"exp":2E+3}`,
	`{"s":"\u00e9\u0000\ud800 \"q\" <tag> & \\","esc":"\n\t\u2028","k\u00e9y":1,"n":0.1}`,
	`{"dup":1,"dup":"two","dup":{"x":3},"obj":{"x":1,"x":2},"a":"first","a":"last"}`,
	`{"nested":{"deep":{"deeper":[1,{"x":[]}]},"list":[{"k":"v"},{"k":null}]},"obj":{"y":{"z":"deep"}}}`,
	`{"list":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],"obj":{"k01":1,"k02":2,"k03":3,"k04":4,"k05":5,"k06":6,"k07":7,"k08":8,"k09":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"x":19,"k01":20}}`,
	`{"eventCode":"interaction.routing.assign","interaction":{"id":"i-1","type":"voice","routing":{"queue":{"id":"q","name":"Internal Operations"}},"customAttributes":{"customer_tier":"gold","priority_score":"85"}}}`,
	`{"eventCode":"interaction.wrapup","interaction":{"id":"i-2","type":"chat","routing":{"queue":{"id":null}},"customAttributes":{"priority_score":90}}}`,
	`{"eventCode":"interaction.wrapup","interaction":{"id":5,"type":"chat","routing":null,"customAttributes":{"priority_score":"high"}}}`,
	`{"interaction":"text","eventBody":{"mediaType":"EMAIL","attributes":{"customer_tier":"gold"}},"metadata":null}`,
	`{"eventBody":{"mediaType":null,"conversationId":"c-1","queueId":"q-1","attributes":{"priority_score":"79.9"}},"topicName":"t","metadata":{"CorrelationId":"c"}}`,
}

// refEvent is the event and detail as encoding/json decodes the envelope into
// an interface{}, which cel-go wraps: what the rules must see.
func refEvent(t testing.TB, raw []byte) (event, detail map[string]any) {
	t.Helper()
	if err := json.Unmarshal(raw, &event); err != nil {
		t.Fatalf("envelope %s: %v", raw, err)
	}
	detail, _ = event["detail"].(map[string]any)
	return event, detail
}

// describeVal prints a result so that two equal results print the same: its
// type, the JSON an enrichment field writes for it and cel-go's formatting
// (maps with sorted keys).
func describeVal(v ref.Val, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if o, ok := v.(*types.Optional); ok {
		if !o.HasValue() {
			return "optional.none()"
		}
		return "optional.of(" + describeVal(o.GetValue(), nil) + ")"
	}
	return fmt.Sprintf("%s %s %s", v.Type().TypeName(), jsonx.AppendValue(nil, v), types.Format(v))
}

// sameElements reports whether a and b are lists of the same elements in any
// order.
func sameElements(a, b ref.Val) bool {
	la, aok := a.(traits.Lister)
	lb, bok := b.(traits.Lister)
	if !aok || !bok || la.Size() != lb.Size() {
		return false
	}
	var ea, eb []string
	for i := types.Int(0); i < la.Size().(types.Int); i++ {
		ea = append(ea, describeVal(la.Get(i), nil))
		eb = append(eb, describeVal(lb.Get(i), nil))
	}
	slices.Sort(ea)
	slices.Sort(eb)
	return slices.Equal(ea, eb)
}

// compiledExpr is one expression compiled alone, as an enrichment field, so
// that the decoder leaves out what it does not read.
type compiledExpr struct {
	expr string
	set  *rules.Set
}

func compileExprs(t testing.TB) (exprs []compiledExpr, all *rules.Set) {
	t.Helper()
	srcs := append([]string(nil), valueExprs...)
	for _, name := range valueConfigs {
		cfg, err := config.Load(filepath.Join("..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range cfg.Filter.Rules {
			srcs = append(srcs, r.Require+r.DropIf)
		}
		srcs = append(srcs, cfg.PartitionKey.Expr)
		if cfg.PartitionKey.ExplicitHashKey != "" {
			srcs = append(srcs, cfg.PartitionKey.ExplicitHashKey)
		}
		for _, f := range cfg.Enrich.Fields {
			srcs = append(srcs, f)
		}
	}
	fields := map[string]string{}
	for i, src := range srcs {
		set, err := rules.Compile(&config.Config{
			PartitionKey: config.PartitionKey{Expr: `"k"`},
			Enrich:       config.Enrich{Fields: map[string]string{"v": src}},
		})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		exprs = append(exprs, compiledExpr{src, set})
		fields[fmt.Sprintf("f%03d", i)] = src
	}
	all, err := rules.Compile(&config.Config{PartitionKey: config.PartitionKey{Expr: `"k"`}, Enrich: config.Enrich{Fields: fields}})
	if err != nil {
		t.Fatal(err)
	}
	return exprs, all
}

// checkValues evaluates every expression over the event raw with the detail
// decoded into CEL values, as the rules read it, and with encoding/json's
// map[string]any, and requires the same results. It reports false when raw is
// not an event the relay accepts.
func checkValues(t *testing.T, raw []byte, exprs []compiledExpr, all *rules.Set) bool {
	t.Helper()
	env, _, err := decode(raw, nil)
	if err != nil {
		return false
	}
	refEv, refDetail := refEvent(t, raw)
	ref := &rules.Vars{Event: refEv, Detail: refDetail}
	check := func(expr string, set *rules.Set, i int, acc *rules.Access) {
		t.Helper()
		_, vars, err := decode(raw, acc)
		if err != nil {
			t.Fatalf("decode with %+v: %v", acc, err)
		}
		got, gotErr := set.FieldValue(i, vars)
		want, wantErr := set.FieldValue(i, ref)
		g, w := describeVal(got, gotErr), describeVal(want, wantErr)
		if g != w {
			// Iterating over a map followed Go's random map order before and
			// follows the order of the JSON text now: some evaluation over
			// encoding/json's maps must give the same result, or for a list
			// the same elements.
			found, varies := false, false
			for range 64 {
				want, wantErr = set.FieldValue(i, ref)
				d := describeVal(want, wantErr)
				found, varies = d == g, varies || d != w
				if found {
					break
				}
			}
			if !found {
				if !varies || gotErr != nil || wantErr != nil || !sameElements(got, want) {
					t.Fatalf("%s over %s:\n got %s\nwant %s", expr, env.Detail, g, w)
				}
				return
			}
		}
		if gotErr != nil {
			return
		}
		if b := jsonx.AppendValue(nil, got); !bytes.Equal(b, jsonx.AppendValue(nil, want)) {
			t.Fatalf("%s over %s writes %s", expr, env.Detail, b)
		}
		// Both representations compare equal both ways where two evaluations
		// over encoding/json's maps do (not with NaN, or maps as map keys).
		again, _ := set.FieldValue(i, ref)
		if _, isOpt := want.(*types.Optional); !isOpt && want.Equal(again) == types.True {
			if got.Equal(want) != types.True || want.Equal(got) != types.True {
				t.Fatalf("%s over %s: %v and %v are not equal", expr, env.Detail, got, want)
			}
		}
	}
	for _, e := range exprs {
		check(e.expr, e.set, 0, e.set.Access())
		check(e.expr, e.set, 0, rules.FullAccess())
	}
	for i, f := range all.Fields {
		check(f.Name, all, i, all.Access())
	}
	return true
}

// valueEvents are the sample events of the repository (testdata/ and
// examples/testdata/), and valueDetails in an envelope.
func valueEvents(t testing.TB) [][]byte {
	t.Helper()
	var events [][]byte
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*.json*"))
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "testdata", "*.json"))
	if len(files) == 0 || len(examples) == 0 {
		t.Fatalf("no sample events: %d files in testdata, %d in examples/testdata", len(files), len(examples))
	}
	for _, f := range append(files, examples...) {
		if strings.HasSuffix(f, ".json") {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, b)
			continue
		}
		events = append(events, testx.ReadLines(t, f)...)
	}
	for i, d := range valueDetails {
		events = append(events, envelopeJSON(fmt.Sprintf("e-%d", i), d))
	}
	events = append(events, []byte(`{"id":"e-r","source":"s","detail-type":"t","resources":["arn:a",null,"arn:\u0062"],"detail":{"a":"x"}}`))
	return append(events, oddEnvelopes...)
}

// oddEnvelopes are legal envelopes whose event differs from the known fields:
// extra keys (EventBridge adds replay-name to replayed events), missing and
// null fields, escaped keys, white space.
var oddEnvelopes = [][]byte{
	[]byte(`{"version":"0","id":"e-x1","detail-type":"t","source":"genesys.cloud","account":"1","time":"t","region":"us-east-1","resources":[],"detail":{"a":"x"},"replay-name":"replay-1"}`),
	[]byte(`{"id":"e-x2","detail-type":"t","source":"genesys.cloud","detail":{"a":1}}`),
	[]byte(`{"id":"e-x3","detail-type":"t","source":"genesys.cloud","region":null,"account":null,"resources":null,"version":null,"time":null,"detail":{}}`),
	[]byte(`{"id":"e-x4","detail-type":"t","source":"genesys.cloud","resources":[null,"arn:x"],"detail":{"s":"v"},"extra":{"x":[1,{"y":null}],"z":"\u00e9"},"n":12.5e1,"k\u00e9y":true}`),
	[]byte(" \r\n\t" + `{ "id" : "e-x5" , "detail-type" : "t" , "source" : "genesys.cloud" , "detail" : { "a" : [ ] } , "extra" : { } , "l" : [ ] }` + "\n\t\r "),
	[]byte(`{"\u0069d":"e-x6","detail-type":"t","source":"genesys.cloud","detail":{},"replay-name":null,"Region":"other"}`),
}

// TestValues checks that the rules read the same from the CEL values the
// decoder builds as from encoding/json's map[string]any.
func TestValues(t *testing.T) {
	exprs, all := compileExprs(t)
	n := 0
	for _, raw := range valueEvents(t) {
		if checkValues(t, raw, exprs, all) {
			n++
		}
	}
	if n < len(valueDetails)+40 {
		t.Fatalf("only %d events were accepted", n)
	}
	t.Logf("%d events accepted", n)
}

// FuzzEventValues is TestValues over any envelope.
func FuzzEventValues(f *testing.F) {
	for _, e := range oddEnvelopes {
		f.Add(e)
	}
	exprs, all := compileExprs(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkValues(t, raw, exprs, all)
	})
}

// FuzzValues is TestValues over any detail.
func FuzzValues(f *testing.F) {
	for _, d := range valueDetails {
		f.Add([]byte(d))
	}
	exprs, all := compileExprs(f)
	f.Fuzz(func(t *testing.T, detail []byte) {
		checkValues(t, envelopeJSON("e-1", string(detail)), exprs, all)
	})
}

// TestArena checks that the strings an arena unescapes stay intact while its
// text grows, in chunks and in arrays of their own, and after a collection,
// and that unescaping one allocates nothing once the text has room.
func TestArena(t *testing.T) {
	a := arena{limit: math.MaxInt}
	var vals []ref.Val
	var want []any
	for i := range 1000 {
		s := fmt.Sprintf(`s\\%d`, i)
		if i%100 == 0 {
			s += strings.Repeat(`\u00e9`, i)
		}
		str, ok := a.unescape([]byte(s))
		if !ok {
			t.Fatal("unescape failed")
		}
		var ref string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &ref); err != nil {
			t.Fatal(err)
		}
		vals = append(vals, types.String(str), types.Double(float64(i)))
		want = append(want, ref, float64(i))
	}
	runtime.GC()
	for i, v := range vals {
		switch x := v.(type) {
		case types.String:
			if string(x) != want[i] {
				t.Fatalf("value %d is %q, want %q", i, x, want[i])
			}
		case types.Double:
			if float64(x) != want[i] {
				t.Fatalf("value %d is %v, want %v", i, x, want[i])
			}
		default:
			t.Fatalf("value %d is a %T", i, v)
		}
		if v.Equal(types.DefaultTypeAdapter.NativeToValue(want[i])) != types.True {
			t.Fatalf("value %d (%v) is not equal to %v", i, v, want[i])
		}
	}
	a = arena{text: make([]byte, 0, 64), limit: math.MaxInt}
	b := []byte(`a\tc`)
	if n := testing.AllocsPerRun(10, func() { a.unescape(b) }); n != 0 {
		t.Fatalf("%v allocations per string", n)
	}
}

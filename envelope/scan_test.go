package envelope

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/genesys-relay/genesys-relay/rules"
)

// scanValid reports whether the scanner accepts data as one JSON value.
func scanValid(data []byte) bool {
	s := scanner{b: data, arena: arena{limit: math.MaxInt}}
	if !s.skip(0) {
		return false
	}
	s.ws()
	return s.i == len(data)
}

// checkScanner compares the scanner with encoding/json on data: it accepts what
// json.Valid and utf8.Valid accept together, decodes what it accepts as
// json.Unmarshal into an interface{} does, refuses (numErr) the numbers
// json.Unmarshal refuses, and decodes only what a Path asks for.
func checkScanner(t *testing.T, data []byte) {
	t.Helper()
	want := json.Valid(data) && utf8.Valid(data)
	if got := scanValid(data); got != want {
		t.Fatalf("scanner accepts %q: %v, json.Valid and utf8.Valid: %v", data, got, want)
	}
	if !want {
		return
	}
	s := scanner{b: data, arena: arena{limit: math.MaxInt}}
	s.ws()
	got, ok := s.decodeValue(nil, 0)
	if !ok {
		t.Fatalf("value(%q) failed after skip accepted it", data)
	}
	var ref any
	if err := json.Unmarshal(data, &ref); err != nil {
		if !s.numErr {
			t.Fatalf("json.Unmarshal(%q): %v; the scanner decoded %#v", data, err, got)
		}
		return
	}
	if s.numErr {
		t.Fatalf("scanner refused a number of %q that json.Unmarshal decodes", data)
	}
	if !reflect.DeepEqual(native(got), ref) {
		t.Fatalf("scanner decoded %q as\n%#v\nencoding/json as\n%#v", data, native(got), ref)
	}
	if m, isMap := ref.(map[string]any); isMap {
		p := somePath(m, 0)
		s := scanner{b: data, arena: arena{limit: math.MaxInt}}
		s.ws()
		pruned, ok := s.decodeValue(p, 0)
		if !ok {
			t.Fatalf("object(%q) failed", data)
		}
		if want := prune(m, p); !reflect.DeepEqual(native(pruned), want) {
			t.Fatalf("object(%q) with path %s decoded\n%#v\nwant\n%#v", data, describePath(p), pruned, want)
		}
	}
}

// somePath asks for every other key of m, and below them for every other key.
func somePath(m map[string]any, depth int) *rules.Path {
	p := &rules.Path{Fields: map[string]*rules.Path{}}
	i := 0
	for k, v := range m {
		i++
		if i%2 == 0 {
			continue
		}
		sub, isMap := v.(map[string]any)
		switch {
		case isMap && depth < 3 && i%3 != 0:
			q := somePath(sub, depth+1)
			q.Name = k
			p.Fields[k] = q
		default:
			p.Fields[k] = &rules.Path{Name: k, All: true}
		}
	}
	return p
}

// prune is what decoding v with p must give.
func prune(v any, p *rules.Path) any {
	m, isMap := v.(map[string]any)
	if p.All || !isMap {
		return v
	}
	out := map[string]any{}
	for k, f := range p.Fields {
		if x, ok := m[k]; ok {
			out[k] = prune(x, f)
		}
	}
	return out
}

func describePath(p *rules.Path) string {
	if p.All {
		return "*"
	}
	var b strings.Builder
	b.WriteString("{")
	for k, f := range p.Fields {
		b.WriteString(k + describePath(f) + " ")
	}
	b.WriteString("}")
	return b.String()
}

func TestScanner(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `-0.0e-0`, `1E+2`, `12345678901234567890123`, `1e308`, `1e309`, `-1e400`,
		`1e-400`, `0.` + strings.Repeat("0", 400) + `1`, strings.Repeat("9", 310), `01`, `1.`, `.5`, `-`, `+1`, `1e`, `1e+`,
		`0x10`, `NaN`, `Infinity`, `true`, `false`, `null`, `nul`, `tru`, `True`,
		`"\u0000"`, `"\ud800"`, `"\ud83d\ude00"`, `"\uDFFF\uD800"`, `"\u00e9\n\t\/\b\f\r\"\\"`, `"\x"`, `"\u12"`, `"\u12G4"`,
		"\"\x1f\"", "\"\x7f\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"é€😀\"",
		"\"\u2028\u2029\"", `"unterminated`, `"\`,
		" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \n", "{\"a\":1,}", `{"a":1 "b":2}`, `{"a" 1}`, `{1:2}`, `{"a":}`,
		`[1,]`, `[,1]`, `[1 2]`, `{"a":1}{}`, `{"a":1} x`, `{"a":{"b":[{"c":null}]}}`, `{"a":1,"a":{"b":2}}`,
		`{"k\u0065y":1,"key":2}`, "\f{}", "{}\v", "\u00a0{}",
		// Numbers longer than longNum, parsed in compactNum's form.
		strings.Repeat("9", 900), "-" + strings.Repeat("9", 900), strings.Repeat("1", 300) + "." + strings.Repeat("2", 700),
		"0." + strings.Repeat("0", 1000) + "1", "0." + strings.Repeat("0", 300) + "1" + strings.Repeat("5", 700),
		"1" + strings.Repeat("0", 1000) + "e-1000", "1" + strings.Repeat("0", 1000) + "e-1000000", "1" + strings.Repeat("0", 900) + "e-600",
		"0." + strings.Repeat("0", 1000) + "1e+1000000", "1." + strings.Repeat("0", 999) + "1E+308", "1." + strings.Repeat("9", 999) + "e307",
		"17976931348623158" + strings.Repeat("0", 900) + "e-600", "17976931348623157" + strings.Repeat("9", 900) + "e-609",
		"17976931348623158" + strings.Repeat("0", 900) + "1e-609", "17976931348623158" + strings.Repeat("0", 900) + "e-609",
		"4.9406564584124654" + strings.Repeat("0", 900) + "e-324", "2.4703282292062327" + strings.Repeat("0", 900) + "1e-324",
		"2.4703282292062327" + strings.Repeat("0", 900) + "e-324", "2.4703282292062328" + strings.Repeat("0", 900) + "e-324",
		"1e" + strings.Repeat("9", 900), "1E-" + strings.Repeat("9", 900), "0e" + strings.Repeat("9", 900), "-0." + strings.Repeat("0", 900),
		"9007199254740993" + strings.Repeat("0", 850) + "1e-851", "9007199254740993" + strings.Repeat("0", 850) + "e-850",
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 9999) + `{}` + strings.Repeat("}", 9999),
		strings.Repeat(`{"a":`, 10000) + `{}` + strings.Repeat("}", 10000),
	} {
		checkScanner(t, []byte(in))
	}
}

// FuzzScanner compares the scanner with encoding/json on any input.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":{"b":1,"c":[true,null,"x"]},"d":"\u00e9"}`, `[1e400]`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScanner(t, data)
	})
}

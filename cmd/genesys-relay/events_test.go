package main

import (
	"bytes"
	"io"
	"testing"
)

// FuzzEventReader: whatever the input, reading ends, and every event is the
// input's own bytes, in order and without overlap, starting on the line given.
func FuzzEventReader(f *testing.F) {
	for _, s := range []string{
		"{\"a\":1}\n{\"b\":2}\n", "[{\"a\":1},\n {\"b\":[2]}]", "{\n \"a\": \"}\\\"{\"\n}\n{}", "{\"a\"\n", "]]],,[",
		"\"x\" 1 true\n{", "{}{}\r\n\r\n{}", "[\n]\n{\"late\":1}", "  \n\t\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := openEvents("-", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		rest, consumedLines := data, 0
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("more events than bytes")
			}
			raw, line, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			j := bytes.Index(rest, raw)
			if len(raw) == 0 || j < 0 {
				t.Fatalf("event %q is not in the rest of the input %q", raw, rest)
			}
			if want := consumedLines + bytes.Count(rest[:j], []byte("\n")) + 1; line != want {
				t.Fatalf("event %q at line %d, want %d", raw, line, want)
			}
			consumedLines += bytes.Count(rest[:j+len(raw)], []byte("\n"))
			rest = rest[j+len(raw):]
		}
	})
}

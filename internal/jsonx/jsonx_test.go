package jsonx

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "passed_all_filters", `"passed_all_filters"`},
		{"quote", `say "hi"`, `"say \"hi\""`},
		{"backslash", `C:\dir\`, `"C:\\dir\\"`},
		{"newline, return, tab", "a\nb\rc\td", `"a\nb\rc\td"`},
		{"NUL", "a\x00b", `"a\u0000b"`},
		{"backspace and form feed", "\b\f", `"\u0008\u000c"`},
		{"other control characters", "\x01\x1f\x1b", `"\u0001\u001f\u001b"`},
		{"DEL is not escaped", "\x7f", "\"\x7f\""},
		{"HTML characters are not escaped", "<a href='x'>&</a>", `"<a href='x'>&</a>"`},
		{"slash is not escaped", "a/b", `"a/b"`},
		{"multi-byte", "Retención café 日本 🎧", `"Retención café 日本 🎧"`},
		{"U+2028", "line\u2028sep", `"line\u2028sep"`},
		{"U+2029", "para\u2029sep", `"para\u2029sep"`},
		{"U+2027 and U+202A are not escaped", "\u2027\u202a", "\"\u2027\u202a\""},
		{"replacement character stays", "\ufffd", "\"\ufffd\""},
		{"invalid byte", "a\xffb", `"a\ufffdb"`},
		{"lone continuation byte", "\x80", `"\ufffd"`},
		{"truncated sequence at the end", "ok\xe2\x80", `"ok\ufffd\ufffd"`},
		{"encoded surrogate", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"overlong encoding", "\xc0\xaf", `"\ufffd\ufffd"`},
		{"mixed", "\"\x00\u2028\xff\\", `"\"\u0000\u2028\ufffd\\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendString(nil, tc.in)); got != tc.want {
				t.Fatalf("AppendString(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestAppendStringAppends(t *testing.T) {
	b := []byte(`{"k":`)
	b = AppendString(b, "v\n")
	if got := string(b); got != `{"k":"v\n"` {
		t.Fatalf("got %s", got)
	}
}

// TestAppendStringRoundTrip encodes many random strings and checks encoding/json
// decodes each to the input (valid UTF-8) or to what encoding/json itself makes of
// it (invalid UTF-8: each bad byte becomes U+FFFD).
func TestAppendStringRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\x00", "\x1f", "\x7f",
		"<", ">", "&", "é", "日", "🎧", "\u2028", "\u2029", "\ufffd", "\ufeff", "\xff", "\xe2\x80", "\xed\xa0\x80", "\x80"}
	for i := 0; i < 20000; i++ {
		var sb strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			if rng.IntN(4) == 0 {
				sb.WriteRune(rune(rng.IntN(0x110000)))
			} else {
				sb.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		checkRoundTrip(t, sb.String())
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\u2028\u2029", "\xff\xfe", "Retención"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkRoundTrip(t, s) })
}

func checkRoundTrip(t *testing.T, s string) {
	t.Helper()
	out := AppendString(nil, s)
	if !json.Valid(out) {
		t.Fatalf("AppendString(%q) = %s is not valid JSON", s, out)
	}
	if !utf8.Valid(out) {
		t.Fatalf("AppendString(%q) = %q is not valid UTF-8", s, out)
	}
	if strings.ContainsAny(string(out), "\u2028\u2029") {
		t.Fatalf("AppendString(%q) = %s contains a raw line or paragraph separator", s, out)
	}
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := s
	if !utf8.ValidString(s) {
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
	}
	if got != want {
		t.Fatalf("AppendString(%q) decodes to %q, want %q", s, got, want)
	}
}

func TestTrimSpace(t *testing.T) {
	for in, want := range map[string]string{
		" \t\r\n{}\n\r\t ": "{}",
		"\v{}":             "\v{}",
		"{}\u00a0":         "{}\u00a0",
		"\u2028{}":         "\u2028{}",
		" \f{} ":           "\f{}",
		"":                 "",
		" \n ":             "",
	} {
		if got := string(TrimSpace([]byte(in))); got != want {
			t.Errorf("TrimSpace(%q) = %q, want %q", in, got, want)
		}
	}
}

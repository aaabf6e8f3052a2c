package iox

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestAppendAll(t *testing.T) {
	src := strings.Repeat("0123456789", 1000)
	for _, buf := range [][]byte{nil, make([]byte, 0, 7), []byte("prefix:")} {
		got, err := AppendAll(buf, iotest.OneByteReader(strings.NewReader(src)))
		if err != nil || string(got) != string(buf)+src {
			t.Fatalf("cap %d: %d bytes, err %v", cap(buf), len(got), err)
		}
	}
	reused := make([]byte, 0, 1<<16)
	got, _ := AppendAll(reused, strings.NewReader("abc"))
	if &got[0] != &reused[:1][0] {
		t.Error("spare capacity not reused")
	}
	boom := errors.New("boom")
	got, err := AppendAll(nil, io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || !bytes.Equal(got, []byte("ab")) {
		t.Fatalf("error case: %q %v", got, err)
	}
}

func TestAppendAtMost(t *testing.T) {
	src := strings.Repeat("0123456789", 100) // 1,000 bytes
	for _, tc := range []struct {
		limit int64
		want  int // bytes appended
		err   error
	}{
		{1000, 1000, nil},
		{5000, 1000, nil},
		{999, 1000, ErrTooLong}, // reads one byte past the limit, no more
		{0, 1, ErrTooLong},
	} {
		for _, r := range []func() io.Reader{
			func() io.Reader { return strings.NewReader(src) },
			func() io.Reader { return iotest.OneByteReader(strings.NewReader(src)) },
			func() io.Reader { return iotest.DataErrReader(strings.NewReader(src)) },
		} {
			got, err := AppendAtMost([]byte("p:"), r(), tc.limit)
			if err != tc.err || len(got)-2 != tc.want || string(got[:2]) != "p:" || string(got[2:]) != src[:tc.want] {
				t.Errorf("limit %d: %d bytes, err %v; want %d, %v", tc.limit, len(got)-2, err, tc.want, tc.err)
			}
		}
	}
	boom := errors.New("boom")
	if _, err := AppendAtMost(nil, iotest.ErrReader(boom), 10); !errors.Is(err, boom) {
		t.Errorf("error case: %v", err)
	}
}

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

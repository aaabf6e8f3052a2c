package kinesis

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

func TestAppendBase64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 600 {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		for _, prefix := range [][]byte{nil, []byte(`{"Data":"`), make([]byte, 3, 4096)} {
			want := base64.StdEncoding.AppendEncode(bytes.Clone(prefix), src)
			if got := appendBase64(bytes.Clone(prefix), src); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes after %q:\n got %s\nwant %s", n, prefix, got, want)
			}
		}
	}
	all := make([]byte, 1<<12*3/2) // every 12-bit value at every position
	for i := range 1 << 12 {
		if i%2 == 0 {
			all[i/2*3], all[i/2*3+1] = byte(i>>4), byte(i<<4)
		} else {
			all[i/2*3+1] |= byte(i >> 8)
			all[i/2*3+2] = byte(i)
		}
	}
	for off := range 3 {
		if got, want := appendBase64(nil, all[off:]), base64.StdEncoding.AppendEncode(nil, all[off:]); !bytes.Equal(got, want) {
			t.Fatalf("offset %d differs", off)
		}
	}
}

func FuzzAppendBase64(f *testing.F) {
	f.Add([]byte{}, []byte("x"))
	f.Add([]byte("prefix"), bytes.Repeat([]byte{0xff, 0, 0x80}, 40))
	f.Fuzz(func(t *testing.T, prefix, src []byte) {
		want := base64.StdEncoding.AppendEncode(bytes.Clone(prefix), src)
		if got := appendBase64(bytes.Clone(prefix), src); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkAppendBase64(b *testing.B) {
	src := make([]byte, 1024)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]byte, 0, 2048)
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			dst = base64.StdEncoding.AppendEncode(dst[:0], src)
		}
	})
	b.Run("appendBase64", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			dst = appendBase64(dst[:0], src)
		}
	})
}

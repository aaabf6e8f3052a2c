// Package iox holds the one I/O helper the standard library lacks for a hot path:
// reading a whole stream into a caller's reusable buffer.
package iox

import (
	"errors"
	"io"
)

// AppendAll appends all of r to b and returns the extended slice, like io.ReadAll
// but into b's spare capacity, so a pooled buffer serves request after request.
// On error it returns what was read so far.
func AppendAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// ErrTooLong is AppendAtMost's error for a stream longer than its limit.
var ErrTooLong = errors.New("iox: stream longer than the limit")

// AppendAtMost is AppendAll for a stream of at most n bytes: it returns
// ErrTooLong as soon as more than n bytes were appended, having read at most
// n+1. Unlike io.LimitReader it allocates nothing of its own.
func AppendAtMost(b []byte, r io.Reader, n int64) ([]byte, error) {
	start := len(b)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		room := b[len(b):cap(b)]
		if left := n + 1 - int64(len(b)-start); int64(len(room)) > left {
			room = room[:left]
		}
		k, err := r.Read(room)
		b = b[:len(b)+k]
		if int64(len(b)-start) > n {
			return b, ErrTooLong
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

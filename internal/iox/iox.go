// Package iox holds the one I/O helper the standard library lacks for a hot path:
// reading a whole stream into a caller's reusable buffer.
package iox

import "io"

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

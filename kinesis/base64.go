package kinesis

import (
	"encoding/base64"
	"encoding/binary"
)

// appendBase64 appends the standard, padded base64 encoding of src to dst,
// exactly as base64.StdEncoding.AppendEncode does (FuzzAppendBase64), about
// 2.5 times as fast: 6 input bytes at a time through a table of the two
// characters of every 12 bits, unrolled four times, instead of 3 bytes and a
// table lookup per character. Encoding the data is the largest part of the
// direct client's cost per record (0.28 instead of 0.71 µs per KB here), so it
// pays for its 30 lines. The tail goes through the standard library.
func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	if cap(dst)-len(dst) < n {
		nd := make([]byte, len(dst), len(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	out := dst[len(dst) : len(dst)+n]
	i, j := 0, 0
	// Each 8-byte load uses 6 bytes, so a block of 24 reads 26.
	for ; len(src)-i >= 26; i, j = i+24, j+32 {
		s, o := src[i:i+26], out[j:j+32]
		binary.LittleEndian.PutUint64(o[0:], encode6(binary.BigEndian.Uint64(s[0:])))
		binary.LittleEndian.PutUint64(o[8:], encode6(binary.BigEndian.Uint64(s[6:])))
		binary.LittleEndian.PutUint64(o[16:], encode6(binary.BigEndian.Uint64(s[12:])))
		binary.LittleEndian.PutUint64(o[24:], encode6(binary.BigEndian.Uint64(s[18:])))
	}
	for ; len(src)-i >= 8; i, j = i+6, j+8 {
		binary.LittleEndian.PutUint64(out[j:], encode6(binary.BigEndian.Uint64(src[i:])))
	}
	base64.StdEncoding.Encode(out[j:], src[i:])
	return dst[:len(dst)+n]
}

// encode6 encodes the top 6 bytes of v as 8 characters, the first in the
// lowest byte.
func encode6(v uint64) uint64 {
	return uint64(base64Pairs[v>>52]) | uint64(base64Pairs[v>>40&0xfff])<<16 |
		uint64(base64Pairs[v>>28&0xfff])<<32 | uint64(base64Pairs[v>>16&0xfff])<<48
}

// base64Pairs holds the two characters encoding each 12-bit value, the first
// in the low byte.
var base64Pairs = func() (t [4096]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = uint16(alphabet[i>>6]) | uint16(alphabet[i&63])<<8
	}
	return t
}()

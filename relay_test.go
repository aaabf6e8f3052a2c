package relay

import (
	"math/big"
	"regexp"
	"testing"
)

// kinesisHashKey is the pattern of ExplicitHashKey in the Kinesis API reference.
var kinesisHashKey = regexp.MustCompile(`^(0|([1-9]\d{0,38}))$`)

var twoTo128 = new(big.Int).Lsh(big.NewInt(1), 128)

// kinesisAccepts is Kinesis's rule written independently: the pattern, and a
// value below 2^128.
func kinesisAccepts(k string) bool {
	if !kinesisHashKey.MatchString(k) {
		return false
	}
	n, _ := new(big.Int).SetString(k, 10)
	return n.Cmp(twoTo128) < 0
}

func TestValidExplicitHashKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"0", true},
		{"1", true},
		{"42", true},
		{"340282366920938463463374607431768211455", true},  // 2^128 - 1
		{"340282366920938463463374607431768211456", false}, // 2^128
		{"999999999999999999999999999999999999999", false}, // 39 digits, above 2^128
		{"99999999999999999999999999999999999999", true},   // 38 digits
		{"1000000000000000000000000000000000000000", false},
		{"", false},
		{"00", false},
		{"007", false},
		{"01", false},
		{"+5", false},
		{"-0", false},
		{"-1", false},
		{" 1", false},
		{"1 ", false},
		{"1e3", false},
		{"0x10", false},
		{"١", false}, // Arabic-Indic digit one
	} {
		if got := ValidExplicitHashKey(tc.key); got != tc.want {
			t.Errorf("ValidExplicitHashKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
		if got := kinesisAccepts(tc.key); got != tc.want {
			t.Errorf("table wrong for %q: Kinesis's rule says %v", tc.key, got)
		}
	}
}

// FuzzValidExplicitHashKey compares the check with Kinesis's rule as written.
func FuzzValidExplicitHashKey(f *testing.F) {
	for _, k := range []string{"0", "007", "+5", "-0", "340282366920938463463374607431768211455", "340282366920938463463374607431768211456"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := ValidExplicitHashKey(k), kinesisAccepts(k); got != want {
			t.Fatalf("ValidExplicitHashKey(%q) = %v, Kinesis's rule %v", k, got, want)
		}
	})
}

package hashtable

import (
	"fmt"
	"testing"
)

// TestString checks that ids of every length up to a few words, and ids
// that differ in one byte anywhere, hash apart.
func TestString(t *testing.T) {
	seen := map[uint64]string{}
	add := func(s string) {
		h := String(s)
		if o, ok := seen[h]; ok && o != s {
			t.Fatalf("String(%q) == String(%q)", s, o)
		}
		seen[h] = s
		if uint32(h) == 0 && s != "" {
			t.Logf("String(%q) has zero low bits", s)
		}
	}
	base := "0123456789abcdefghijklmnopqrstuvwxyz"
	for n := range len(base) {
		add(base[:n])
		for i := range n {
			b := []byte(base[:n])
			b[i] ^= 1
			add(string(b))
		}
	}
	for i := range 70000 {
		add(fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255))
		add(fmt.Sprintf("c-%d", i))
	}
}

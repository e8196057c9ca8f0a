package hashtable

import "testing"

// The table must agree with a Go map through any mix of sets and deletes,
// including the back-shifts a delete makes in a crowded table.
func TestTableAgreesWithMap(t *testing.T) {
	var m Table[int64]
	want := map[uint64]int64{}
	r := uint64(1)
	for i := range int64(200000) {
		r = r*6364136223846793005 + 1442695040888963407
		k := r >> 50 // few distinct keys, so sets and deletes meet
		if i%7 == 0 {
			k = (r >> 58) << 40 // keys sharing low bits
		}
		if i%5000 == 0 {
			m.Clear()
			clear(want)
		}
		switch r >> 62 {
		case 0:
			m.Delete(k)
			delete(want, max(k, 1))
			if _, ok := m.Get(k); ok {
				t.Fatalf("step %d: key %d still there after delete", i, k)
			}
		default:
			m.Set(k, i)
			want[max(k, 1)] = i
		}
		if i%1000 == 999 {
			if m.Len() != len(want) {
				t.Fatalf("step %d: %d entries, want %d", i, m.Len(), len(want))
			}
			for k, v := range want {
				if got, ok := m.Get(k); !ok || got != v {
					t.Fatalf("step %d: key %d = %d %v, want %d", i, k, got, ok, v)
				}
			}
		}
	}
}

func TestZeroTable(t *testing.T) {
	var m Table[string]
	if _, ok := m.Get(7); ok || m.Len() != 0 {
		t.Fatal("zero table not empty")
	}
	m.Delete(7)
	m.Set(0, "zero")
	if v, ok := m.Get(1); !ok || v != "zero" {
		t.Fatalf("keys 0 and 1 differ: %q %v", v, ok)
	}
}

func TestAll(t *testing.T) {
	var m Table[int]
	want := map[uint64]int{}
	for i := range 1000 {
		k := uint64(i)*0x9e3779b97f4a7c15 + 2
		m.Set(k, i)
		want[k] = i
		if i%3 == 0 {
			m.Delete(k)
			delete(want, k)
		}
	}
	got := map[uint64]int{}
	for k, v := range m.All() {
		got[k] = v
	}
	if len(got) != len(want) {
		t.Fatalf("All yielded %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %d: %d, want %d", k, got[k], v)
		}
	}
}

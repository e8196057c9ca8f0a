package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteIsSeededAndValid(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	o := Defaults()
	if err := Write(a, o); err != nil {
		t.Fatal(err)
	}
	Write(b, o)
	o.Seed++
	Write(c, o)
	for _, name := range []string{"roster", "subjects", "tickets", "events"} {
		x, _ := os.ReadFile(filepath.Join(a, name+".ndjson"))
		y, _ := os.ReadFile(filepath.Join(b, name+".ndjson"))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s: the same seed wrote different bytes (or nothing)", name)
		}
	}
	x, _ := os.ReadFile(filepath.Join(a, "events.ndjson"))
	z, _ := os.ReadFile(filepath.Join(c, "events.ndjson"))
	if bytes.Equal(x, z) {
		t.Error("another seed wrote the same events")
	}
	roster, _ := os.ReadFile(filepath.Join(a, "roster.ndjson"))
	for id := range Insiders {
		if !strings.Contains(string(roster), `"id":"`+id+`"`) {
			t.Errorf("insider %s is not on the roster", id)
		}
	}
	if !strings.Contains(string(x), `"subject":{"id":"c-9999"}`) {
		t.Error("nobody touches the honeytoken")
	}
	if err := Write(t.TempDir(), Options{Days: 2}); err == nil {
		t.Error("two days were accepted")
	}
}

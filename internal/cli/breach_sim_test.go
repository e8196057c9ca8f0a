package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/sim"
)

// End to end on a simulated organisation: simulate a small org with
// labelled insiders, replay it into a database, and for each insider whose
// scenario touches specific customers, attribute a leak of exactly those
// customers: the insider ranks first. For the colluding pair, attributing
// the union of their customers reports the pair.
func TestAttributeSimulatedInsiders(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and replays an organisation")
	}
	dir := t.TempDir()
	org := filepath.Join(dir, "org")
	if _, errOut, code := runCLI(t, "simulate", "--seed", "3", "--agents", "40", "--customers", "3000", "--days", "21",
		"--no-insiders", "--insiders", "bribed_agent=1,id_harvest=1,screen_photographing=1,collusion=1", org); code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, errOut)
	}
	db := filepath.Join(dir, "custos.db")
	if _, errOut, code := runCLI(t, "replay", "--db", db, "--out", os.DevNull, org); code != 0 {
		t.Fatalf("replay --db: exit %d: %s", code, errOut)
	}
	labels, err := sim.ReadLabels(filepath.Join(org, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	attribute := func(t *testing.T, ids []string) breach.Attribution {
		t.Helper()
		list := filepath.Join(t.TempDir(), "leaked.txt")
		if err := os.WriteFile(list, []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runCLI(t, "attribute", "--db", db, "--format", "json", list)
		if code != 0 {
			t.Fatalf("attribute: exit %d: %s", code, errOut)
		}
		var a breach.Attribution
		if err := json.Unmarshal([]byte(out), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	var colluders []sim.Insider
	tested := 0
	for _, in := range labels.Insiders {
		if in.Scenario == sim.Collusion {
			colluders = append(colluders, in)
			continue
		}
		if len(in.Targets) < 10 {
			continue
		}
		tested++
		t.Run(in.Scenario, func(t *testing.T) {
			a := attribute(t, in.Targets)
			if len(a.Suspects) == 0 || a.Suspects[0].Actor != in.Actor {
				t.Errorf("%s leaked %d customers; suspects %+v", in.Actor, len(in.Targets), a.Suspects[:min(3, len(a.Suspects))])
			}
		})
	}
	if tested < 3 {
		t.Fatalf("only %d insiders with targets in the simulation", tested)
	}
	if len(colluders) != 2 {
		t.Fatalf("colluders %+v", colluders)
	}
	union := slices.Concat(colluders[0].Targets, colluders[1].Targets)
	slices.Sort(union)
	a := attribute(t, slices.Compact(union))
	want := [2]string{colluders[0].Actor, colluders[1].Actor}
	if want[1] < want[0] {
		want[0], want[1] = want[1], want[0]
	}
	if len(a.Pairs) == 0 || a.Pairs[0].Actors != want {
		t.Errorf("colluders %v not the first pair: %+v", want, a.Pairs)
	}
}

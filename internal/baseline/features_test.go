package baseline

import (
	"math/rand/v2"
	"testing"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// TestFeaturesOn checks each feature's On: an event with none of those
// facts must add nothing, or the loop that skips it would change counts.
func TestFeaturesOn(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	actions := event.Actions
	coin := func() bool { return rng.IntN(2) == 0 }
	for range 20000 {
		ev := &event.Event{Action: actions[rng.IntN(len(actions))], Count: rng.IntN(3), Denied: coin()}
		x := &Access{In: &engine.Input{Event: ev}, Touch: coin(), NewCustomer: coin(), NewCustomerHour: coin(),
			NoTicket: coin(), NewNoTicket: coin(), OthersTicket: coin(), NewOthersTicket: coin(), HighValue: coin(),
			NewIdentity: coin(), NewTicket: coin(), NewHour: coin(), NewIP: coin(), NewDevice: coin(), NewCountry: coin(),
			LongDwell: coin()}
		if coin() {
			x.NewFields = rng.IntN(4)
		}
		if coin() {
			x.Dwell = float64(rng.IntN(300))
		}
		on := x.facts()
		for _, f := range Features() {
			if f.On == 0 || f.On&on != 0 {
				continue
			}
			if n, dn := f.Add(x); n != 0 || dn != 0 {
				t.Fatalf("%s adds %v, %v for an event with none of its facts (%b): %+v", f.Name, n, dn, f.On, x)
			}
		}
	}
}

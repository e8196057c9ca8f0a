// Command breachbench loads a synthetic support history into a Custos
// store and times the breach questions on it: exposure for one actor and
// attribution of 1,000 leaked customers (the targets of issue 7: under
// 200 ms and under 2 s at 10 M stored events).
//
//	go run ./scripts/breachbench -db /tmp/breach.db -events 10000000
//
// The history: actors work tickets (a ticket opened and assigned, three
// accesses under it, solved), a fifth of them on a queue four times busier,
// over -days days among -customers customers; one insider also looks at
// 1,000 customers with no ticket, spread over a month, and those customers
// are the leak. Loading goes through store.Append in large batches, as
// replay --db does, so it also measures ingest with the reach triggers. An
// existing database is reused (pass -fresh to rebuild it).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/store"
)

const (
	insider = "a-insider"
	leakN   = 1000
)

func main() {
	db := flag.String("db", "breachbench.db", "SQLite database file")
	events := flag.Int("events", 10_000_000, "access events to store")
	actors := flag.Int("actors", 2000, "support agents")
	customers := flag.Int("customers", 1_000_000, "customers")
	days := flag.Int("days", 180, "days of history")
	fresh := flag.Bool("fresh", false, "delete and reload the database")
	reps := flag.Int("reps", 5, "times each question is asked")
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()

	if *fresh {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(*db + suffix)
		}
	}
	_, statErr := os.Stat(*db)
	st, err := store.Open(ctx, *db)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	g := &gen{rng: rand.New(rand.NewPCG(7, 11)), actors: *actors, customers: *customers, days: *days, start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	leaked := g.leaked()
	if statErr != nil {
		if err := g.load(ctx, st, *events); err != nil {
			log.Fatal(err)
		}
	} else {
		log.Printf("reusing %s (-fresh to rebuild)", *db)
	}

	win := engine.Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}
	// Every fifth actor is on the busy queue (four times the tickets).
	typical, busy := fmt.Sprintf("a-%04d", *actors/2+1), fmt.Sprintf("a-%04d", *actors/2)
	monthAgo := breach.Window{Since: g.start.AddDate(0, 0, *days-30), Until: g.start.AddDate(0, 0, *days)}
	time1 := func(name string, fn func() string) {
		var ds []time.Duration
		var note string
		for range *reps {
			t0 := time.Now()
			note = fn()
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		log.Printf("%-44s min %8s  median %8s  %s", name, ds[0].Round(time.Millisecond/10), ds[len(ds)/2].Round(time.Millisecond/10), note)
	}
	exposure := func(actor string, w breach.Window) func() string {
		return func() string {
			x, err := breach.Exposures(ctx, st, breach.ExposureQuery{Scope: breach.Scope{Actor: actor}, Window: w}, win)
			if err != nil {
				log.Fatal(err)
			}
			return fmt.Sprintf("%d customers, %d accesses, %d unjustified", x.Summary.Customers, x.Summary.Accesses, x.Summary.UnjustifiedAccesses)
		}
	}
	time1("exposure, one actor, all time", exposure(typical, breach.Window{}))
	time1("exposure, one actor, last 30 days", exposure(typical, monthAgo))
	time1("exposure, busiest-queue actor, all time", exposure(busy, breach.Window{}))
	time1("exposure, the insider, all time", exposure(insider, breach.Window{}))
	attribute := func(w breach.Window) func() string {
		return func() string {
			a, err := breach.Attribute(ctx, st, breach.AttributionQuery{Customers: leaked, Window: w}, win)
			if err != nil {
				log.Fatal(err)
			}
			s := a.Suspects[0]
			return fmt.Sprintf("%d candidates; first %s covers %d, score %.0f; second score %.1f",
				a.Candidates, s.Actor, s.Covered, s.Score, a.Suspects[1].Score)
		}
	}
	time1("attribution, 1,000 leaked, all time", attribute(breach.Window{}))
	time1("attribution, 1,000 leaked, 90-day window", attribute(breach.Window{Since: g.start.AddDate(0, 0, *days-90)}))
}

type gen struct {
	rng       *rand.Rand
	actors    int
	customers int
	days      int
	start     time.Time
	n         int
	buf       []byte
}

func (g *gen) customer(i int) string { return "c-" + strconv.Itoa(1_000_000_0 + i)[1:] }

// leaked is the insider's harvest: 1,000 distinct customers, fixed by the
// seed so a reused database and a new run agree.
func (g *gen) leaked() []string {
	r := rand.New(rand.NewPCG(99, 1))
	seen := map[int]bool{}
	var out []string
	for len(out) < leakN {
		c := r.IntN(g.customers)
		if !seen[c] {
			seen[c] = true
			out = append(out, g.customer(c))
		}
	}
	return out
}

func (g *gen) event(actor, subject, ticket, resource, fields string, at time.Time) (store.Record, error) {
	g.n++
	b := g.buf[:0]
	b = append(b, `{"id":"e-`...)
	b = strconv.AppendInt(b, int64(g.n), 10)
	b = append(b, `","time":"`...)
	b = at.AppendFormat(b, time.RFC3339)
	b = append(b, `","actor":{"id":"`...)
	b = append(b, actor...)
	b = append(b, `","session":"s-`...)
	b = append(b, actor...)
	b = append(b, `","ip":"198.51.100.7"},"action":"view","subject":{"id":"`...)
	b = append(b, subject...)
	b = append(b, `"},"resource":"`...)
	b = append(b, resource...)
	b = append(b, `","fields":`...)
	b = append(b, fields...)
	if ticket != "" {
		b = append(b, `,"ticket":"`...)
		b = append(b, ticket...)
		b = append(b, '"')
	}
	b = append(b, `,"app":"support-console"}`...)
	g.buf = b
	e, err := event.DecodeEvent(b)
	return store.Record{Event: &e}, err
}

func ticket(id, subject, assignee string, status event.TicketStatus, at time.Time) store.Record {
	return store.Record{Ticket: &event.TicketChange{Time: at, ID: id, Subject: subject, Assignee: assignee, Status: status,
		Raw: []byte(`{"time":"` + at.Format(time.RFC3339) + `","id":"` + id + `","subject":"` + subject + `","assignee":"` + assignee + `","status":"` + string(status) + `"}`)}}
}

func (g *gen) load(ctx context.Context, st *store.Store, total int) error {
	var people []*event.Person
	for i := range g.actors {
		id := fmt.Sprintf("a-%04d", i)
		raw := fmt.Sprintf(`{"id":%q,"team":"team-%02d","vendor":"bpo-%d","role":"agent","site":"site-%d"}`, id, i/20, i%3, i%5)
		p, err := event.DecodePerson([]byte(raw))
		if err != nil {
			return err
		}
		people = append(people, &p)
	}
	ins, _ := event.DecodePerson([]byte(`{"id":"` + insider + `","team":"team-07","vendor":"bpo-1","role":"agent","site":"site-2"}`))
	people = append(people, &ins)
	if err := st.PutPeople(ctx, people); err != nil {
		return err
	}

	// Tickets per actor-day so that the total comes to about total events:
	// three events a ticket, the busy fifth of the actors at four times the
	// rate of the others.
	weight := float64(g.actors) * (0.8 + 0.2*4)
	perDay := float64(total) / 3 / float64(g.days) / weight
	leaked := g.leaked()
	harvestDay := g.days - 60

	t0 := time.Now()
	var batch []store.Record
	flush := func() error {
		if _, err := st.Append(ctx, batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	stored := 0
	tk := 0
	for d := 0; d < g.days && stored < total; d++ {
		day := g.start.AddDate(0, 0, d)
		// One pass per minute-slot keeps the batch in time order.
		type job struct {
			actor int
			at    time.Time
		}
		var jobs []job
		for a := range g.actors {
			rate := perDay
			if a%5 == 0 {
				rate *= 4
			}
			n := int(rate)
			if g.rng.Float64() < rate-float64(n) {
				n++
			}
			for range n {
				jobs = append(jobs, job{a, day.Add(time.Duration(g.rng.IntN(8*3600)) * time.Second).Add(8 * time.Hour)})
			}
		}
		slices.SortFunc(jobs, func(x, y job) int { return x.at.Compare(y.at) })
		for _, j := range jobs {
			actor := fmt.Sprintf("a-%04d", j.actor)
			c := g.customer(g.rng.IntN(g.customers))
			tk++
			id := "T-" + strconv.Itoa(tk)
			batch = append(batch, ticket(id, c, actor, event.TicketOpen, j.at))
			for k, part := range [][2]string{{"profile", `["name","email","phone"]`}, {"transactions", `["amount"]`}, {"notes", `[]`}} {
				r, err := g.event(actor, c, id, part[0], part[1], j.at.Add(time.Duration(k+1)*time.Minute))
				if err != nil {
					return err
				}
				batch = append(batch, r)
				stored++
			}
			batch = append(batch, ticket(id, c, actor, event.TicketSolved, j.at.Add(5*time.Minute)))
		}
		if d >= harvestDay && d < harvestDay+30 {
			for i := (d - harvestDay) * leakN / 30; i < (d-harvestDay+1)*leakN/30; i++ {
				r, err := g.event(insider, leaked[i], "", "kyc_document", `["name","dob","document_number"]`, day.Add(23*time.Hour).Add(time.Duration(i%60)*time.Second))
				if err != nil {
					return err
				}
				batch = append(batch, r)
				stored++
			}
		}
		if len(batch) >= 100_000 {
			if err := flush(); err != nil {
				return err
			}
			el := time.Since(t0)
			log.Printf("day %d: %d events stored, %.0f events/s", d+1, stored, float64(stored)/el.Seconds())
		}
	}
	if err := flush(); err != nil {
		return err
	}
	el := time.Since(t0)
	log.Printf("loaded %d events and %d tickets in %s (%.0f events/s)", stored, tk, el.Round(time.Second), float64(stored)/el.Seconds())
	return nil
}

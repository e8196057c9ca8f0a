package rules

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// The native form of a condition must agree with expr on every input: it
// replaces expr whenever it covers the whole condition.
func TestNativeAgreesWithExpr(t *testing.T) {
	aggs := map[string]int{"views": 0, "custs": 1}
	exprs := []string{
		`!denied`,
		`denied == false`,
		`true == customer.honeytoken`,
		`customer.honeytoken`,
		`not customer.honeytoken && !denied`,
		`action == "view" && count >= 100`,
		`action in ["view", "reveal"] && resource != "notes"`,
		`verification not in ["", "none"]`,
		`100 <= count || duration_ms > 180000`,
		`customer.balance_usd >= 100000 || customer.tier == "vip"`,
		`customer.balance_usd > 2.5`,
		`trim(reason) == ""`,
		`trim(reason) != "x"`,
		`any(fields, # in ["dob", "id_number"])`,
		`agg.views >= 20 && agg.custs < 3`,
		`history.hour_share < 0.05 && history.days_active >= 10`,
		`ticket.verdict in ["no_ticket", "other_subject"] && !(actor.role == "qa")`,
		`actor.after_contract || actor.before_contract || actor.status in ["suspended"]`,
		`ticket.id == ticket.cited && ticket.assignee_team != actor.team`,
		`!(actor.role == "qa" && ticket.cited_subject == subject)`,
		`agg.views * 2 >= agg.custs && count > 1`,
		`1.0 * agg.views / agg.custs > 3.0 * count / max(duration_ms, 1)`,
		`(agg.views - agg.custs) / max(agg.custs - 1, 1) >= 0.5 && min(agg.views, 7) < agg.custs`,
		`customer.balance_usd / 1000 >= count + 1`,
		`count % 7 == 0 && !denied`,  // partly native
		`len(fields) > 1 && !denied`, // partly native
	}
	r := rand.New(rand.NewPCG(3, 4))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	var machine vm.VM
	for i, src := range exprs {
		tree, err := parser.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		guard, exact, pre, post := nativeCond(tree.Node, aggs)
		if guard == nil {
			t.Errorf("%s: no native part", src)
			continue
		}
		if wantExact := i < len(exprs)-2; exact != wantExact {
			t.Errorf("%s: exact = %v, want %v", src, exact, wantExact)
		}
		c := &compiler{aggNames: aggs}
		prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool(), expr.Patch(&aggPatcher{c: c, allowed: true}))
		if err != nil {
			t.Fatal(err)
		}
		for range 2000 {
			var e Env
			e.Denied = r.IntN(2) == 0
			e.Action = pick("view", "reveal", "export", "login")
			e.Resource = pick("notes", "profile", "")
			e.Count = r.IntN(200)
			e.DurationMS = r.IntN(400000)
			e.Verification = pick("", "none", "kba", "callback")
			e.Reason = pick("", "  ", "x", " x ")
			e.Fields = [][]string{nil, {"dob"}, {"email", "phone"}, {"name", "id_number"}}[r.IntN(4)]
			e.Customer = CustomerEnv{Honeytoken: r.IntN(2) == 0, BalanceUSD: float64(r.IntN(300000)) / 1.5, Tier: pick("vip", "standard")}
			e.Agg.A0, e.Agg.A1 = r.IntN(40), r.IntN(40)
			e.History = HistoryEnv{HourShare: r.Float64() / 5, DaysActive: r.IntN(20)}
			e.Ticket.Verdict = pick("justified", "no_ticket", "other_subject")
			e.Ticket.ID, e.Ticket.Cited = pick("", "T-1", "T-2"), pick("", "T-1", "T-2")
			e.Ticket.AssigneeTeam, e.Ticket.CitedSubject = pick("", "kyc", "payments"), pick("c-1", "c-2")
			e.Subject = pick("c-1", "c-2")
			e.Actor = ActorEnv{Role: pick("qa", "agent"), Status: pick("active", "suspended"), AfterContract: r.IntN(3) == 0, BeforeContract: r.IntN(3) == 0,
				Team: pick("", "kyc", "payments")}
			out, err := machine.Run(prog, &e)
			if err != nil {
				t.Fatal(err)
			}
			want := out.(bool)
			got := guard.eval(&e)
			if split := (pre == nil || pre.eval(&e)) && (post == nil || post.eval(&e)); split != got {
				t.Fatalf("%s: pre and post %v, guard %v on %+v", src, split, got, e)
			}
			if exact && got != want {
				t.Fatalf("%s: native %v, expr %v on %+v", src, got, want, e)
			}
			if !exact && want && !got {
				t.Fatalf("%s: the guard rejected an input expr accepts: %+v", src, e)
			}
		}
	}
}

// AggEnv.slot indexes the fields as an array: they must lie in a row.
func TestAggEnvSlots(t *testing.T) {
	var a AggEnv
	for i, name := range slotNames {
		*a.slot(i) = i + 1
		if got := reflect.ValueOf(a).FieldByNameFunc(func(f string) bool { return strings.EqualFold(f, name) }).Int(); got != int64(i+1) {
			t.Fatalf("slot %d wrote %s = %d", i, name, got)
		}
	}
}

// Package rules is Custos's detection rule language: rule files in YAML
// with conditions in expr (github.com/expr-lang/expr), windowed aggregates,
// sequences, exceptions, suppression and tests inside each rule. A Pack is
// a set of compiled, immutable rules; an Evaluator runs one pack inside one
// engine and keeps the per-actor state the rules need (windows, sequences,
// history). docs/rules.md is the language reference.
package rules

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/custos-io/custos/internal/event"
	shipped "github.com/custos-io/custos/rules"
)

// Pack is a loaded, compiled set of rules. It is immutable: any number of
// evaluators (engines) may share it.
type Pack struct {
	rules []*Rule // sorted by id
	// index lists, per stage and action, the rules an event must meet.
	index   [2][len(actionIndexes)][]entry
	history bool // some rule reads the actor's history
	aggs    int  // aggregates of all rules, numbered rule by rule (entry.agg)
}

// entry is a rule and its position in the pack, which keys the rule's state
// in an evaluator (rules are shared between packs, so they cannot hold it).
type entry struct {
	r   *Rule
	pos int
	// agg numbers the rule's first aggregate in the pack: the evaluator
	// keeps aggregate i's windows at agg+i of flat slices.
	agg int
	// tried says the rule's condition is tried on the action; feeds lists
	// the aggregates (by position in r.aggs) the action adds to, all an
	// event it is not tried on has to visit.
	tried bool
	feeds []int
}

var actionIndexes = [...]event.Action{event.Login, event.Logout, event.Search, event.View, event.Reveal, event.Export, event.Update, event.CredentialReset, event.MFAReset}

// actionIndex numbers the actions as actionBit does: its bit is 1 << the
// index (TestActionBitIsIndex).
func actionIndex(a event.Action) int {
	switch a {
	case event.Login:
		return 0
	case event.Logout:
		return 1
	case event.Search:
		return 2
	case event.View:
		return 3
	case event.Reveal:
		return 4
	case event.Export:
		return 5
	case event.Update:
		return 6
	case event.CredentialReset:
		return 7
	case event.MFAReset:
		return 8
	}
	return -1
}

// Rules returns the rules, sorted by id.
func (p *Pack) Rules() []*Rule { return p.rules }

// Rule returns the rule with the id, or nil.
func (p *Pack) Rule(id string) *Rule {
	i, ok := slices.BinarySearchFunc(p.rules, id, func(r *Rule, id string) int { return strings.Compare(r.ID, id) })
	if !ok {
		return nil
	}
	return p.rules[i]
}

// Stages reports whether any rule runs at each stage, so an engine can
// leave out a stage it does not need.
func (p *Pack) Stages() (immediate, settled bool) {
	for _, r := range p.rules {
		if r.Stage == Settled {
			settled = true
		} else {
			immediate = true
		}
	}
	return immediate || p.history, settled
}

// Without returns the pack minus the rules with the given ids; an id not in
// the pack is an error (a typo would otherwise leave a rule switched on).
func (p *Pack) Without(ids ...string) (*Pack, error) {
	if len(ids) == 0 {
		return p, nil
	}
	var missing []string
	for _, id := range ids {
		if p.Rule(id) == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("disabling rules: no rule %s in the pack", strings.Join(missing, ", "))
	}
	var keep []*Rule
	for _, r := range p.rules {
		if !slices.Contains(ids, r.ID) {
			keep = append(keep, r)
		}
	}
	return newPack(keep), nil
}

// Only returns a pack of the one rule, for its tests.
func (p *Pack) only(r *Rule) *Pack { return newPack([]*Rule{r}) }

func newPack(rs []*Rule) *Pack {
	p := &Pack{rules: rs}
	for pos, r := range rs {
		if r.usesHistory {
			p.history = true
		}
		for i, a := range actionIndexes {
			if r.trigger.has(a) {
				en := entry{r: r, pos: pos, agg: p.aggs, tried: r.actions.has(a)}
				for j, g := range r.aggs {
					if g.actions.has(a) {
						en.feeds = append(en.feeds, j)
					}
				}
				p.index[r.Stage][i] = append(p.index[r.Stage][i], en)
			}
		}
		p.aggs += len(r.aggs)
	}
	return p
}

// Load reads every *.yaml and *.yml file at the top of fsys. Errors name
// files as prefix/NAME. A pack with any problem is not loaded: the error is
// an Errors listing every problem in every file.
func Load(fsys fs.FS, prefix string) (*Pack, error) {
	rs, errs := compileFS(fsys, prefix)
	if len(errs) > 0 {
		return nil, errs
	}
	return newPack(rs), nil
}

// LoadDir loads the rule files in dir.
func LoadDir(dir string) (*Pack, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("rules directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("rules directory %s: not a directory", dir)
	}
	return Load(os.DirFS(dir), filepath.Clean(dir))
}

// Shipped loads the pack built into the binary (the rules/ directory of the
// repository).
func Shipped() (*Pack, error) { return Load(shipped.FS, "rules") }

func compileFS(fsys fs.FS, prefix string) ([]*Rule, Errors) {
	var errs Errors
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, Errors{{File: prefix, Msg: err.Error()}}
	}
	var rs []*Rule
	seen := map[string]*Rule{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (path.Ext(name) != ".yaml" && path.Ext(name) != ".yml") {
			continue
		}
		text, err := fs.ReadFile(fsys, name)
		display := path.Join(prefix, name)
		if err != nil {
			errs = append(errs, Error{File: display, Msg: err.Error()})
			continue
		}
		r, src := compileFile(display, text, &errs)
		if r == nil {
			continue
		}
		if first, dup := seen[r.ID]; dup {
			src.errorf("id", "rule %q is already defined in %s", r.ID, first.File)
			continue
		}
		seen[r.ID] = r
		rs = append(rs, r)
	}
	if len(rs) == 0 && len(errs) == 0 {
		errs = append(errs, Error{File: prefix, Msg: "no rule files (*.yaml, *.yml)"})
	}
	errs.sort()
	sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
	return rs, errs
}

// compileFile parses and compiles one rule file, appending its problems to
// errs; the rule is nil if there were any.
func compileFile(name string, text []byte, errs *Errors) (*Rule, *source) {
	src, spec, ok := parseFile(name, text, errs)
	if !ok {
		return nil, src
	}
	n := len(*errs)
	r := compileRule(src, spec)
	if len(*errs) > n {
		return nil, src
	}
	return r, src
}

package rules

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The spec types mirror a rule file one to one; docs/rules.md is their
// reference. Durations stay strings here so a bad one is reported with its
// position like any other value.

type ruleSpec struct {
	ID          string            `yaml:"id"`
	Title       string            `yaml:"title"`
	Description string            `yaml:"description"`
	Severity    string            `yaml:"severity"`
	Risk        *float64          `yaml:"risk"`
	Tags        []string          `yaml:"tags"`
	Actions     []string          `yaml:"actions"`
	Stage       string            `yaml:"stage"`
	Condition   string            `yaml:"condition"`
	Aggregates  []aggSpec         `yaml:"aggregates"`
	Sequence    *sequenceSpec     `yaml:"sequence"`
	Exceptions  exceptionSpec     `yaml:"exceptions"`
	Suppress    suppressSpec      `yaml:"suppress"`
	Summary     string            `yaml:"summary"`
	Details     map[string]string `yaml:"details"`
	Tests       []testSpec        `yaml:"tests"`
}

type aggSpec struct {
	Name    string   `yaml:"name"`
	Kind    string   `yaml:"kind"` // count, distinct, sum
	Of      string   `yaml:"of"`   // distinct: the value; sum: the amount
	Window  string   `yaml:"window"`
	Actions []string `yaml:"actions"`
	Where   string   `yaml:"where"`
	Per     string   `yaml:"per"` // actor (default), team, vendor, site, subject, all
	By      string   `yaml:"by"`
}

type sequenceSpec struct {
	Per    string     `yaml:"per"` // actor (default), subject, actor_subject
	Within string     `yaml:"within"`
	Steps  []stepSpec `yaml:"steps"`
}

type stepSpec struct {
	Name    string   `yaml:"name"`
	Actions []string `yaml:"actions"`
	Where   string   `yaml:"where"`
}

type exceptionSpec struct {
	Roles   []string `yaml:"roles"`
	Teams   []string `yaml:"teams"`
	Vendors []string `yaml:"vendors"`
	Actors  []string `yaml:"actors"`
	When    []string `yaml:"when"`
}

type suppressSpec struct {
	For string `yaml:"for"`
	Key string `yaml:"key"`
}

type testSpec struct {
	Name     string     `yaml:"name"`
	Match    *bool      `yaml:"match"`
	Actor    string     `yaml:"actor"`
	Summary  *string    `yaml:"summary"`
	Alerts   *int       `yaml:"alerts"`
	Roster   []ast.Node `yaml:"roster"`
	Subjects []ast.Node `yaml:"subjects"`
	Tickets  []ast.Node `yaml:"tickets"`
	Events   []ast.Node `yaml:"events"`
}

// Error is one problem in one rule file, at a line and column (1-based; 0
// when unknown) and a path inside the rule such as "aggregates[1].window".
type Error struct {
	File      string
	Line, Col int
	Path      string
	Msg       string
}

func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors lists every problem found in a pack, sorted by file and position.
type Errors []Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// source is one parsed rule file: its name for errors, its text and its
// syntax tree, which positions come from.
type source struct {
	name  string
	text  []byte
	lines []string
	file  *ast.File
	errs  *Errors
}

// errorf records a problem at the node the YAML path (without the leading
// "$.") points to, or at the closest existing parent.
func (s *source) errorf(path, format string, args ...any) {
	line, col := s.pos(path)
	*s.errs = append(*s.errs, Error{File: s.name, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// errorAt records a problem at an explicit position.
func (s *source) errorAt(line, col int, path, format string, args ...any) {
	*s.errs = append(*s.errs, Error{File: s.name, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (s *source) node(path string) ast.Node {
	if s.file == nil {
		return nil
	}
	for p := path; ; {
		q := "$"
		if p != "" {
			q = "$." + p
		}
		if yp, err := yaml.PathString(q); err == nil {
			if n, err := yp.FilterFile(s.file); err == nil && n != nil {
				return n
			}
		}
		if p == "" {
			return nil
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			p = ""
		} else {
			p = p[:i]
		}
	}
}

func (s *source) pos(path string) (int, int) {
	n := s.node(path)
	if n == nil || n.GetToken() == nil {
		return 0, 0
	}
	// A mapping (the closest parent of a missing key) is where its first
	// key starts.
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && m.Values[0].Key != nil {
		n = m.Values[0].Key
	}
	p := n.GetToken().Position
	return p.Line, p.Column
}

// exprPos maps a line and column inside an expression string (1-based line,
// 0-based column, as expr reports them) to the file.
func (s *source) exprPos(path string, line, col int) (int, int) {
	n := s.node(path)
	if n == nil || n.GetToken() == nil {
		return 0, 0
	}
	tk := n.GetToken()
	switch v := n.(type) {
	case *ast.LiteralNode:
		// Block scalar: the text starts on the line after the indicator,
		// indented; a literal (|) keeps its lines.
		first := v.Start.Position.Line + 1
		indent := 0
		if first-1 < len(s.lines) {
			l := s.lines[first-1]
			indent = len(l) - len(strings.TrimLeft(l, " "))
		}
		if strings.HasPrefix(v.Start.Value, ">") {
			return first, indent + 1
		}
		return first + line - 1, indent + col + 1
	case *ast.StringNode:
		if line > 1 {
			return tk.Position.Line, tk.Position.Column
		}
		off := 0
		if strings.HasPrefix(tk.Origin, "\"") || strings.HasPrefix(strings.TrimSpace(tk.Origin), "\"") ||
			strings.HasPrefix(strings.TrimSpace(tk.Origin), "'") {
			off = 1
		}
		return tk.Position.Line, tk.Position.Column + off + col
	}
	return tk.Position.Line, tk.Position.Column
}

// parseFile parses and decodes one rule file. Unknown fields are all
// reported (not just the first), then decoding goes on without them so the
// rest of the file is still checked. ok is false when nothing more can be
// checked.
func parseFile(name string, text []byte, errs *Errors) (*source, *ruleSpec, bool) {
	s := &source{name: name, text: text, lines: strings.Split(string(text), "\n"), errs: errs}
	f, err := parser.ParseBytes(text, 0)
	if err != nil {
		s.yamlError(err)
		return s, nil, false
	}
	s.file = f
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		s.errorAt(1, 1, "", "want exactly one YAML document holding one rule, found %d", countDocs(f))
		return s, nil, false
	}
	body := f.Docs[0].Body
	if _, ok := body.(*ast.MappingNode); !ok {
		if _, ok := body.(*ast.MappingValueNode); !ok {
			s.errorf("", "a rule is a mapping of keys (id, title, condition, ...), got %s", body.Type())
			return s, nil, false
		}
	}
	unknownFields(s, body, reflect.TypeFor[ruleSpec](), "")
	var spec ruleSpec
	if err := yaml.NodeToValue(body, &spec); err != nil {
		s.yamlError(err)
		return s, nil, false
	}
	return s, &spec, true
}

func countDocs(f *ast.File) int {
	n := 0
	for _, d := range f.Docs {
		if d.Body != nil {
			n++
		}
	}
	return n
}

func (s *source) yamlError(err error) {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		s.errorAt(p.Line, p.Column, "", "%s", ye.GetMessage())
		return
	}
	s.errorAt(0, 0, "", "%v", err)
}

var astNodeType = reflect.TypeFor[ast.Node]()

// unknownFields reports every mapping key under node that t (a spec struct)
// does not declare, with the keys it does.
func unknownFields(s *source, node ast.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == astNodeType {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		forEachKey(node, func(key string, kn, vn ast.Node) {
			ft, ok := fields[key]
			if !ok {
				p := kn.GetToken().Position
				s.errorAt(p.Line, p.Column, join(path, key), "unknown field %q (want one of %s)", key, strings.Join(names, ", "))
				return
			}
			unknownFields(s, vn, ft, join(path, key))
		})
	case reflect.Slice:
		if sn, ok := node.(*ast.SequenceNode); ok {
			for i, v := range sn.Values {
				unknownFields(s, v, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// forEachKey calls fn for each key of a mapping node; other nodes are left
// to the decoder, which reports them as type errors.
func forEachKey(node ast.Node, fn func(key string, kn, vn ast.Node)) {
	var pairs []*ast.MappingValueNode
	switch m := node.(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	default:
		return
	}
	for _, kv := range pairs {
		if kv.Key == nil || kv.Key.GetToken() == nil {
			continue
		}
		fn(kv.Key.GetToken().Value, kv.Key, kv.Value)
	}
}

package breach

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/custos-io/custos/internal/event"
)

// idColumns are the column or key names taken as the customer id when none
// is named, in order of preference.
var idColumns = []string{"customer", "customer_id", "subject", "subject_id", "id"}

// MaxLeaked bounds a leaked list: a leak of a whole customer base is an
// exposure question, not an attribution one.
const MaxLeaked = 1_000_000

// ReadLeaked reads a list of leaked customer ids from r, named name in
// errors. It accepts one id per line (blank lines and lines starting with #
// are skipped), NDJSON objects (the id under column, or the first of
// customer, customer_id, subject, subject_id or id; a {"id": ...} object
// works too), or CSV with a header row (the column named column, or the
// first of those names). The format is told by the first record: an object
// is NDJSON, a comma, semicolon or tab makes it CSV, as does naming a column.
// Records without an id are returned as rejected, each naming its line; the
// good ones still count. Duplicates are dropped, first occurrence kept.
func ReadLeaked(r io.Reader, name, column string) (ids []string, rejected []*event.RecordError, err error) {
	data, err := io.ReadAll(io.LimitReader(r, 512<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	first := firstRecord(data)
	reject := func(line int, err error) {
		rejected = append(rejected, &event.RecordError{Source: name, Line: line, Err: err})
	}
	switch {
	case strings.HasPrefix(first, "{"):
		ids, err = leakedNDJSON(data, column, reject)
	case column != "" || strings.ContainsAny(first, ",;\t"):
		ids, err = leakedCSV(data, name, column, first, reject)
	default:
		ids = leakedLines(data)
	}
	if err != nil {
		return nil, rejected, err
	}
	ids = dedupe(ids)
	if len(ids) > MaxLeaked {
		return nil, rejected, fmt.Errorf("%s: %d customer ids, more than the %d attribution handles; ask for exposure instead", name, len(ids), MaxLeaked)
	}
	return ids, rejected, nil
}

func firstRecord(data []byte) string {
	for line := range bytes.Lines(data) {
		l := strings.TrimSpace(string(line))
		if l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

func leakedLines(data []byte) []string {
	var ids []string
	for line := range bytes.Lines(data) {
		l := strings.TrimSpace(string(line))
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ids = append(ids, strings.Trim(l, `"'`))
	}
	return ids
}

func leakedNDJSON(data []byte, column string, reject func(int, error)) ([]string, error) {
	keys := idColumns
	if column != "" {
		keys = []string{column}
	}
	var ids []string
	n := 0
	for line := range bytes.Lines(data) {
		n++
		l := bytes.TrimSpace(line)
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(l, &obj); err != nil {
			reject(n, &event.FieldError{Reason: "not a JSON object: " + err.Error()})
			continue
		}
		id, key := "", ""
		for _, k := range keys {
			if v, ok := obj[k]; ok {
				id, key = jsonID(v), k
				break
			}
		}
		switch {
		case key == "":
			reject(n, &event.FieldError{Reason: "no customer id (looked for " + strings.Join(keys, ", ") + ")"})
		case id == "":
			reject(n, &event.FieldError{Field: key, Reason: "not a non-empty string, number or {\"id\": ...} object"})
		default:
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// jsonID reads an id written as a string, a number or an object with an id
// (the event contract's {"id": "c-1"} shape).
func jsonID(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return strings.TrimSpace(s)
	}
	var num json.Number
	if json.Unmarshal(v, &num) == nil {
		return num.String()
	}
	var obj struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(v, &obj) == nil && obj.ID != nil && !bytes.HasPrefix(bytes.TrimSpace(obj.ID), []byte("{")) {
		return jsonID(obj.ID)
	}
	return ""
}

func leakedCSV(data []byte, name, column, first string, reject func(int, error)) ([]string, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.ReuseRecord = true
	switch {
	case strings.Contains(first, "\t") && !strings.Contains(first, ","):
		cr.Comma = '\t'
	case strings.Contains(first, ";") && !strings.Contains(first, ","):
		cr.Comma = ';'
	}
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the CSV header: %w", name, err)
	}
	header = slices.Clone(header) // the reader reuses its record
	col := -1
	want := idColumns
	if column != "" {
		want = []string{column}
	}
	for _, w := range want {
		col = slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(strings.TrimSpace(h), w) })
		if col >= 0 {
			break
		}
	}
	if col < 0 {
		line, _ := cr.FieldPos(0)
		return nil, fmt.Errorf("%s:%d: no column named %s in the header (name one with --column)", name, line, strings.Join(want, ", "))
	}
	var ids []string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			reject(pe.StartLine, &event.FieldError{Reason: pe.Err.Error()})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if col >= len(rec) || strings.TrimSpace(rec[col]) == "" {
			reject(line, &event.FieldError{Field: header[col], Reason: "empty"})
			continue
		}
		ids = append(ids, strings.TrimSpace(rec[col]))
	}
	return ids, nil
}

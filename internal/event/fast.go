package event

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// ownedLine copies line once and returns the copy as bytes (for Raw) and as a
// string over the same memory (for the decoded fields), so a record costs one
// allocation for all its text. The bytes are never written after this: Raw is
// read-only by contract (the store and sinks only pass it on).
func ownedLine(line []byte) ([]byte, string) {
	if len(line) == 0 {
		return nil, ""
	}
	b := bytes.Clone(line)
	return b, unsafe.String(&b[0], len(b))
}

// openRecord copies line once (ownedLine) and positions a scanner inside its
// top-level object; ok is false if the line does not start with one. Each
// fast decoder then reads the members with scanner.object and must end with
// scanner.end.
func openRecord(line []byte) (s scanner, raw []byte, ok bool) {
	raw, src := ownedLine(line)
	s = scanner{b: raw, src: src}
	s.ws()
	return s, raw, s.eat('{')
}

// fastEvent decodes the common shape of an access event without reflection.
// It handles what real producers send (ASCII or UTF-8 strings without
// escapes, integer counts, string lists, unknown fields of any shape) and
// gives up (ok == false) on anything else: escapes, nulls, numbers with
// fractions, keys that differ from ours only in case. The caller then uses
// the encoding/json path, which also produces the error message, so both
// paths accept the same records and say the same things (FuzzDecodeEvent).
func fastEvent(line []byte) (f eventFields, ok bool) {
	// One copy of the line backs every string of the event and its Raw.
	s, raw, ok := openRecord(line)
	f.raw = raw
	if !ok {
		return f, false
	}
	ok = s.object(func(key string) bool {
		var ok bool
		switch key {
		case "id":
			f.id, ok = s.str()
		case "time":
			f.time, ok = s.str()
		case "action":
			f.action, ok = s.str()
		case "actor":
			ok = s.eat('{') && s.object(func(key string) bool {
				var ok bool
				switch key {
				case "id":
					f.actorID, ok = s.str()
				case "session":
					f.session, ok = s.str()
				case "ip":
					f.ip, ok = s.str()
				case "device":
					f.device, ok = s.str()
				case "country":
					f.country, ok = s.str()
				default:
					ok = !foldsToKnown(key, actorKeys) && s.skip(1)
				}
				return ok
			})
		case "subject":
			ok = s.eat('{') && s.object(func(key string) bool {
				if key == "id" {
					var ok bool
					f.subject, ok = s.str()
					return ok
				}
				return !foldsToKnown(key, subjectKeys) && s.skip(1)
			})
		case "resource":
			f.resource, ok = s.str()
		case "fields":
			f.fields, ok = s.strList()
		case "ticket":
			f.ticket, ok = s.str()
		case "reason":
			f.reason, ok = s.str()
		case "query":
			f.query, ok = s.str()
		case "count":
			var n int64
			n, ok = s.int()
			f.count, f.hasCount = int(n), true
		case "duration_ms":
			f.durationMS, ok = s.int()
		case "verification":
			f.verification, ok = s.str()
		case "result":
			f.result, ok = s.str()
		case "app":
			f.app, ok = s.str()
		default:
			ok = !foldsToKnown(key, eventKeys) && s.skip(0)
		}
		return ok
	})
	return f, ok && s.end()
}

// fastTicket is fastEvent for ticket changes: the common shape only, the
// encoding/json path for anything else (FuzzDecodeTicketChange).
func fastTicket(line []byte) (w ticketFields, ok bool) {
	s, raw, ok := openRecord(line)
	w.raw = raw
	if !ok {
		return w, false
	}
	ok = s.object(func(key string) bool {
		var ok bool
		switch key {
		case "time":
			w.time, ok = s.str()
			w.hasTime = true
		case "id":
			w.id, ok = s.str()
		case "subject":
			w.subject, ok = s.str()
		case "assignee":
			w.assignee, ok = s.str()
		case "status":
			w.status, ok = s.str()
		default:
			ok = !foldsToKnown(key, ticketKeys) && s.skip(0)
		}
		return ok
	})
	return w, ok && s.end()
}

// fastSubject decodes the common shape of a customer record the way
// fastTicket does a ticket change; a balance is parsed as encoding/json
// parses a float64 (strconv.ParseFloat of the literal).
func fastSubject(line []byte) (w subjectFields, ok bool) {
	s, raw, ok := openRecord(line)
	w.raw = raw
	if !ok {
		return w, false
	}
	ok = s.object(func(key string) bool {
		var ok bool
		switch key {
		case "id":
			w.id, ok = s.str()
		case "tier":
			w.tier, ok = s.str()
		case "country":
			w.country, ok = s.str()
		case "balance_usd":
			start := s.i
			if ok = s.number(); ok {
				var err error
				w.balance, err = strconv.ParseFloat(s.src[start:s.i], 64)
				w.hasBalance, ok = true, err == nil
			}
		case "honeytoken":
			switch {
			case s.lit("true"):
				w.honeytoken, ok = true, true
			case s.lit("false"):
				w.honeytoken, ok = false, true
			}
		default:
			ok = !foldsToKnown(key, customerKeys) && s.skip(0)
		}
		return ok
	})
	return w, ok && s.end()
}

var (
	customerKeys = []string{"id", "tier", "balance_usd", "country", "honeytoken"}
	ticketKeys   = []string{"time", "id", "subject", "assignee", "status"}
	eventKeys    = []string{"id", "time", "action", "actor", "subject", "resource", "fields", "ticket", "reason", "query", "count", "duration_ms", "verification", "result", "app"}
	actorKeys    = []string{"id", "session", "ip", "device", "country"}
	subjectKeys  = []string{"id"}
)

// foldsToKnown reports whether key matches a known key case-insensitively,
// which encoding/json would accept as that field.
func foldsToKnown(key string, known []string) bool {
	for _, k := range known {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// scanner walks JSON bytes. Every method returns false instead of an error:
// the slow path explains.
type scanner struct {
	b   []byte
	src string // string(b), so strings are substrings of one allocation
	i   int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		// Compact JSON has no white space: one comparison rules it out.
		if c := s.b[s.i]; c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return
		}
		s.i++
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end accepts only trailing white space.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// object reads members after '{' up to and including '}', calling member
// with each key when positioned at its value.
func (s *scanner) object(member func(key string) bool) bool {
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		if !member(key) {
			return false
		}
		s.ws()
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// rawStr returns the bytes of a string without escapes.
func (s *scanner) rawStr() ([]byte, bool) {
	start, end, ok := s.span()
	return s.b[start:end], ok
}

// span reads a string without escapes and returns where its text is:
// b[start:end].
func (s *scanner) span() (start, end int, ok bool) {
	if !s.eat('"') {
		return 0, 0, false
	}
	start = s.i
	// Eight bytes at a time: the first quote, backslash, control or
	// non-ASCII byte ends the fast scan; only a quote ends the string
	// (escapes and control bytes are the slow path's), and non-ASCII text
	// is checked as UTF-8 by spanRest.
	b := s.b
	j := start
	for ; j+8 <= len(b); j += 8 {
		if m := special(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			j += bits.TrailingZeros64(m) / 8
			if b[j] == '"' {
				s.i = j + 1
				return start, j, true
			}
			return s.spanRest(start, j)
		}
	}
	for ; j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 && b[j] < 0x80; j++ {
	}
	if j < len(b) && b[j] == '"' {
		s.i = j + 1
		return start, j, true
	}
	return s.spanRest(start, j)
}

// spanRest finishes span from b[j], the first byte of the string that is
// not plain ASCII text, when it is not the closing quote.
func (s *scanner) spanRest(start, j int) (int, int, bool) {
	b := s.b
	if j >= len(b) || b[j] < 0x80 {
		return 0, 0, false // unterminated, an escape or a control byte
	}
	end := bytes.IndexByte(b[j:], '"')
	if end < 0 {
		return 0, 0, false
	}
	raw := b[start : j+end]
	for _, c := range raw {
		if c == '\\' || c < 0x20 {
			return 0, 0, false
		}
	}
	if !utf8.Valid(raw) {
		return 0, 0, false
	}
	s.i = j + end + 1
	return start, j + end, true
}

// special has the high bit set in each byte of w, and in no byte before the
// first such, that is a quote, a backslash, below 0x20 or from 0x80 up
// (bytes after the first may be flagged spuriously by borrows).
func special(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := w ^ (ones * '"')
	bs := w ^ (ones * '\\')
	return ((q-ones)&^q | (bs-ones)&^bs | (w-ones*0x20)&^w | w) & highs
}

func (s *scanner) str() (string, bool) {
	start, end, ok := s.span()
	return s.src[start:end], ok
}

func (s *scanner) strList() ([]string, bool) {
	if !s.eat('[') {
		return nil, false
	}
	out := make([]string, 0, 4)
	s.ws()
	if s.eat(']') {
		return out, true
	}
	for {
		s.ws()
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.ws()
		if s.eat(']') {
			return out, true
		}
		if !s.eat(',') {
			return nil, false
		}
	}
}

// int reads a JSON integer that fits comfortably in an int64.
func (s *scanner) int() (int64, bool) {
	neg := s.eat('-')
	start := s.i
	var n int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 15 || (digits > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// skip passes over any JSON value, checking its syntax well enough that a
// value the slow path would reject is never accepted.
func (s *scanner) skip(depth int) bool {
	if depth > 32 || s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.rawStr()
		return ok
	case c == '{':
		s.i++
		return s.object(func(string) bool { return s.skip(depth + 1) })
	case c == '[':
		s.i++
		s.ws()
		if s.eat(']') {
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(']') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

// number passes over a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.eat('-')
	if s.eat('0') {
	} else if !s.digits() {
		return false
	}
	if s.eat('.') && !s.digits() {
		return false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		return s.digits()
	}
	return true
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) lit(l string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(l)) {
		s.i += len(l)
		return true
	}
	return false
}

package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"sync"
)

// pseudonymPrefix marks a pseudonym so it is never mistaken for an id.
const pseudonymPrefix = "ag-"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Pseudonyms maps agent ids to stable keyed-hash pseudonyms and back. The
// same key gives the same pseudonym across restarts and reports; without the
// key a pseudonym cannot be turned back into an id, even by trying every id
// on the roster.
type Pseudonyms struct {
	key []byte

	mu   sync.RWMutex
	back map[string]string // pseudonym -> id, for ids seen so far
}

// NewPseudonyms returns a mapper keyed with key (at least 16 bytes).
func NewPseudonyms(key []byte) *Pseudonyms {
	return &Pseudonyms{key: key, back: map[string]string{}}
}

// Of returns id's pseudonym, "ag-" and 10 base32 characters (50 bits: no
// collision is expected below millions of agents).
func (p *Pseudonyms) Of(id string) string {
	if id == "" {
		return ""
	}
	ps := pseudonymPrefix + p.tag(id)
	p.mu.RLock()
	_, known := p.back[ps]
	p.mu.RUnlock()
	if !known {
		p.mu.Lock()
		p.back[ps] = id
		p.mu.Unlock()
	}
	return ps
}

// tag is the keyed hash of s, 10 lower-case base32 characters.
func (p *Pseudonyms) tag(s string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(s))
	return strings.ToLower(b32.EncodeToString(m.Sum(nil))[:10])
}

// Learn records ids so their pseudonyms can be resolved.
func (p *Pseudonyms) Learn(ids ...string) {
	for _, id := range ids {
		p.Of(id)
	}
}

// Resolve returns the id behind a pseudonym seen before.
func (p *Pseudonyms) Resolve(ps string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	id, ok := p.back[ps]
	return id, ok
}

// IsPseudonym reports whether s has a pseudonym's shape.
func IsPseudonym(s string) bool {
	return strings.HasPrefix(s, pseudonymPrefix) && len(s) == len(pseudonymPrefix)+10
}

// maskText replaces every whole-word id in s for which known reports true
// with show(id): engine summaries name agents by id ("a-ana (bpo-north
// payments agent) viewed ..."), and the console must not leak them. A word
// is a maximal run of id characters without a trailing full stop or hyphen.
func maskText(s string, known func(string) bool, show func(string) string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !idChar(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && idChar(s[j]) {
			j++
		}
		k := j
		for k > i && (s[k-1] == '.' || s[k-1] == '-') {
			k--
		}
		if w := s[i:k]; known(w) {
			b.WriteString(s[last:i])
			b.WriteString(show(w))
			last = k
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func idChar(c byte) bool {
	return c == '-' || c == '_' || c == '.' || c == '@' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

package breach

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// MintRequest asks for canary customers for one team or one site.
type MintRequest struct {
	Team string
	Site string
	// Count is how many canaries to mint.
	Count int
	// Seed makes the ids: the same seed, scope and count mint the same
	// canaries again, so minting is repeatable and a lost output can be
	// regenerated. Keep it secret: whoever knows it can list the canaries.
	Seed string
	// Prefix and Digits shape the ids like the organisation's real customer
	// ids ("c-" and 10 decimal digits by default), so a decoy does not stand
	// out in the support tool.
	Prefix string
	Digits int
	// Tier and Country are written to the records; EmailDomain is the
	// domain of the decoy email addresses (use one whose mail you watch: a
	// message to a canary address is a leak in progress).
	Tier        string
	Country     string
	EmailDomain string
	// At is when they were minted.
	At time.Time
}

// MintSource is what minting needs: the customer records (to avoid an id
// already in use) and the canary table.
type MintSource interface {
	Directory
	CanaryStore
}

// Mint defaults.
const (
	DefaultMintPrefix = "c-"
	DefaultMintDigits = 10
	DefaultMintTier   = "plus"
	DefaultMintDomain = "example.com"
	maxMint           = 1000
)

// Mint makes req.Count canary customers unique to req's team or site,
// stores them (customer records with honeytoken set, and which team or site
// each is shown to) and returns them with their customer records.
func Mint(ctx context.Context, src MintSource, req MintRequest) ([]Canary, []*event.Subject, error) {
	if (req.Team == "") == (req.Site == "") {
		return nil, nil, errors.New("canary: give exactly one of team or site")
	}
	if req.Count < 1 || req.Count > maxMint {
		return nil, nil, fmt.Errorf("canary: count must be between 1 and %d, got %d", maxMint, req.Count)
	}
	if req.Seed == "" {
		return nil, nil, errors.New("canary: a seed is required (it makes the ids repeatable; keep it secret)")
	}
	if req.Prefix == "" {
		req.Prefix = DefaultMintPrefix
	}
	if req.Digits == 0 {
		req.Digits = DefaultMintDigits
	}
	if req.Digits < 6 || req.Digits > 18 {
		return nil, nil, fmt.Errorf("canary: digits must be between 6 and 18, got %d", req.Digits)
	}
	if req.Tier == "" {
		req.Tier = DefaultMintTier
	}
	if req.EmailDomain == "" {
		req.EmailDomain = DefaultMintDomain
	}
	scope := "team\x00" + req.Team
	if req.Site != "" {
		scope = "site\x00" + req.Site
	}

	// Draw ids until Count are free: an id may collide with a real customer
	// or another scope's canary (rare with 10 digits, but a canary that is
	// a real customer would blame the innocent).
	var cs []Canary
	var subs []*event.Subject
	for i := 0; len(cs) < req.Count; i++ {
		if i >= req.Count+100 {
			return nil, nil, fmt.Errorf("canary: could not find %d free ids with prefix %q and %d digits", req.Count, req.Prefix, req.Digits)
		}
		h := sha256.Sum256([]byte(req.Seed + "\x00" + scope + "\x00" + fmt.Sprint(i)))
		id := req.Prefix + digits(h[:8], req.Digits)
		known, err := src.SubjectRecords(ctx, []string{id})
		if err != nil {
			return nil, nil, fmt.Errorf("canary: checking id %s: %w", id, err)
		}
		other, err := src.Canaries(ctx, []string{id})
		if err != nil {
			return nil, nil, fmt.Errorf("canary: checking id %s: %w", id, err)
		}
		if r := known[id]; r != nil && !r.Honeytoken {
			continue // a real customer
		}
		if len(other) > 0 && (other[0].Team != req.Team || other[0].Site != req.Site) {
			continue // another team's or site's canary
		}
		sub, err := decoy(id, h, req)
		if err != nil {
			return nil, nil, err
		}
		cs = append(cs, Canary{Subject: id, Team: req.Team, Site: req.Site, Minted: req.At.UTC(), Seed: req.Seed})
		subs = append(subs, sub)
	}
	if err := src.PutCanaries(ctx, cs, subs); err != nil {
		return nil, nil, fmt.Errorf("canary: storing: %w", err)
	}
	return cs, subs, nil
}

// digits renders the first bytes of a hash as n decimal digits.
func digits(b []byte, n int) string {
	v := binary.BigEndian.Uint64(b)
	s := fmt.Sprintf("%020d", v)
	return s[len(s)-n:]
}

var (
	firstNames = []string{"Alex", "Maria", "Daniel", "Sofia", "James", "Aisha", "Lucas", "Mei", "Omar", "Elena", "Noah", "Priya", "Samuel", "Hana", "Victor", "Chloe"}
	lastNames  = []string{"Moreau", "Tanaka", "Okoro", "Silva", "Novak", "Haddad", "Larsen", "Quinn", "Mendes", "Kowalski", "Reyes", "Schmidt", "Osei", "Varga", "Lindqvist", "Ferreira"}
)

// decoyRecord is a canary's customer record. The fields beyond the contract
// (name, email) are what the support tool shows; the store keeps them.
type decoyRecord struct {
	ID         string  `json:"id"`
	Tier       string  `json:"tier"`
	BalanceUSD float64 `json:"balance_usd"`
	Country    string  `json:"country,omitempty"`
	Honeytoken bool    `json:"honeytoken"`
	Name       string  `json:"name"`
	Email      string  `json:"email"`
}

func decoy(id string, h [32]byte, req MintRequest) (*event.Subject, error) {
	first, last := firstNames[int(h[8])%len(firstNames)], lastNames[int(h[9])%len(lastNames)]
	// A balance worth stealing, but not so large it looks planted.
	balance := float64(20000+int(binary.BigEndian.Uint16(h[10:12]))%180000) + float64(h[12]%100)/100
	r := decoyRecord{
		ID: id, Tier: req.Tier, BalanceUSD: balance, Country: req.Country, Honeytoken: true,
		Name:  first + " " + last,
		Email: fmt.Sprintf("%s.%s%02d@%s", strings.ToLower(first), strings.ToLower(last), h[13]%100, req.EmailDomain),
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	s, err := event.DecodeSubject(raw)
	if err != nil {
		return nil, fmt.Errorf("canary: minted record %s: %w", id, err)
	}
	return &s, nil
}

// Package event holds the records Custos reads at its edges (access events,
// roster entries, customers and ticket changes, see FORMATS.md) and decodes
// and validates them. Every decode error names the field and why, so callers
// can prefix the file and line or the request index.
package event

import (
	"encoding/json"
	"time"
)

// Action is what an actor did. The set is closed (FORMATS.md section 1).
type Action string

// The actions of the contract.
const (
	Login           Action = "login"
	Logout          Action = "logout"
	Search          Action = "search"
	View            Action = "view"
	Reveal          Action = "reveal"
	Export          Action = "export"
	Update          Action = "update"
	CredentialReset Action = "credential_reset"
	MFAReset        Action = "mfa_reset"
)

// Actions lists every valid action, in contract order.
var Actions = []Action{Login, Logout, Search, View, Reveal, Export, Update, CredentialReset, MFAReset}

// Valid reports whether a is one of the contract's actions.
func (a Action) Valid() bool {
	switch a {
	case Login, Logout, Search, View, Reveal, Export, Update, CredentialReset, MFAReset:
		return true
	}
	return false
}

// TouchesSubject reports whether the action reads or changes a customer's data.
func (a Action) TouchesSubject() bool {
	switch a {
	case View, Reveal, Export, Update, CredentialReset, MFAReset:
		return true
	}
	return false
}

// Actor identifies who acted and from where.
type Actor struct {
	ID      string `json:"id"`
	Session string `json:"session,omitempty"`
	IP      string `json:"ip,omitempty"`
	Device  string `json:"device,omitempty"`
	Country string `json:"country,omitempty"`
}

// Event is one access event. Times are UTC. Raw keeps the record as received,
// unknown fields included, so the store and sinks can pass it on unchanged.
type Event struct {
	ID           string
	Time         time.Time
	Actor        Actor
	Action       Action
	Subject      string
	Resource     string
	Fields       []string
	Ticket       string
	Reason       string
	Query        string
	Count        int
	DurationMS   int64
	Verification string
	Denied       bool
	App          string
	Raw          json.RawMessage
}

// Status is a roster entry's employment status.
type Status string

// Roster statuses.
const (
	Active     Status = "active"
	Suspended  Status = "suspended"
	Terminated Status = "terminated"
)

// Person is one roster entry: a workforce identity and its contract.
// Zero ContractStart or ContractEnd means none was given.
type Person struct {
	ID            string
	Name          string
	Vendor        string
	Team          string
	Role          string
	Site          string
	Country       string
	ContractStart time.Time
	ContractEnd   time.Time
	Status        Status
	Manager       string
	Raw           json.RawMessage
}

// Subject is a customer whose data agents can see.
type Subject struct {
	ID         string
	Tier       string
	BalanceUSD float64
	Country    string
	Honeytoken bool
	Raw        json.RawMessage
}

// TicketStatus is a ticket's state after a change.
type TicketStatus string

// Ticket statuses.
const (
	TicketNew     TicketStatus = "new"
	TicketOpen    TicketStatus = "open"
	TicketPending TicketStatus = "pending"
	TicketSolved  TicketStatus = "solved"
	TicketClosed  TicketStatus = "closed"
)

// Working reports whether a ticket in this state is still being worked on.
func (s TicketStatus) Working() bool {
	return s == TicketNew || s == TicketOpen || s == TicketPending
}

// TicketChange is one change of one ticket.
type TicketChange struct {
	Time     time.Time
	ID       string
	Subject  string
	Assignee string
	Status   TicketStatus
	Raw      json.RawMessage
}

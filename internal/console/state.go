package console

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by State lookups for a missing user, session or
// secret.
var ErrNotFound = errors.New("not found")

// User is one console user. Local users have a PasswordHash; users who log
// in through OIDC are created on first login with Via "oidc".
type User struct {
	Name         string
	Display      string
	Role         Role
	Vendor       string // the vendor a vendor_supervisor is scoped to
	PasswordHash string
	Via          string // "local" or "oidc"
	Disabled     bool
	Created      time.Time
}

// Session is a logged-in browser. ID is the SHA-256 of the cookie's token,
// so a leaked database does not leak live sessions.
type Session struct {
	ID       string
	User     string
	CSRF     string
	Created  time.Time
	LastSeen time.Time
	Remote   string
}

// Case workflow values.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"

	VerdictTrue  = "true_positive"
	VerdictFalse = "false_positive"
)

// CaseState is what investigators decided about a case. The engine's case
// finding says what it found; this says what people did with it.
type CaseState struct {
	CaseID      string
	Assignee    string
	Status      string // open or closed; empty means open
	Verdict     string // true_positive, false_positive or empty
	CloseReason string
	// Rules are the rules of the case's alerts when the verdict was given,
	// so false-positive marks can be counted per rule for tuning.
	Rules   []string
	Updated time.Time
}

// Case action kinds.
const (
	ActAssign  = "assign"
	ActComment = "comment"
	ActVerdict = "verdict"
	ActClose   = "close"
	ActReopen  = "reopen"
	ActRespond = "respond"
)

// CaseAction is one entry in a case's history.
type CaseAction struct {
	Seq    int64
	CaseID string
	Time   time.Time
	User   string
	Kind   string
	Value  string // assignee, verdict, close reason or response name
	Note   string // comment text or the response's result
}

// Reveal grants one user the real identity of one actor until Until.
type Reveal struct {
	User   string
	Actor  string
	Reason string
	Case   string
	Time   time.Time
	Until  time.Time
}

// Audit actions.
const (
	AuditLogin        = "login"
	AuditLoginFailed  = "login_failed"
	AuditLogout       = "logout"
	AuditViewCase     = "view_case"
	AuditViewActor    = "view_actor"
	AuditViewCustomer = "view_customer"
	AuditReveal       = "reveal"
	AuditExport       = "export"
	AuditSearch       = "query"
	AuditCaseAction   = "case_action"
	AuditDenied       = "denied"
	AuditUserAdmin    = "user_admin"
)

// AuditRecord is one thing a console user did that the watchers of the
// watchers want to see.
type AuditRecord struct {
	Seq    int64
	Time   time.Time
	User   string
	Role   Role
	Action string
	// Target names what was looked at or changed: "case:ID", "actor:ID"
	// (the real id, never shown unrevealed), "customer:ID", "exposure".
	Target string
	Detail string
	Count  int // rows of a query or export
	Remote string
}

// AuditQuery selects audit records, newest first. Zero fields do not filter.
type AuditQuery struct {
	User   string
	Action string
	Before int64 // Seq below this; 0 means from the newest
	Limit  int
}

// State keeps the console's own data: users, sessions, what investigators
// did with cases, identity reveals and the audit trail. The embedded store
// implements it in SQLite; memState in memory for tests.
type State interface {
	User(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)
	PutUser(ctx context.Context, u User) error

	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteSessions ends every session of user (a disabled user, a
	// changed password).
	DeleteSessions(ctx context.Context, user string) error

	CaseStates(ctx context.Context) (map[string]CaseState, error)
	CaseActions(ctx context.Context, caseID string) ([]CaseAction, error)
	// AddCaseAction records a and sets the case's state to st, atomically.
	AddCaseAction(ctx context.Context, a CaseAction, st CaseState) error

	AddReveal(ctx context.Context, r Reveal) error
	// Reveals returns user's reveals still valid at at.
	Reveals(ctx context.Context, user string, at time.Time) ([]Reveal, error)

	AddAudit(ctx context.Context, r AuditRecord) error
	Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)

	// Secret returns the named secret, creating it with gen on first use,
	// so keys (the pseudonym key) survive restarts without configuration.
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}

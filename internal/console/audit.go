package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// App is the app name of the access events the console emits.
const App = "custos-console"

// ConsoleActor is the actor id under which a console user appears in the
// engine: a prefix keeps it apart from the workforce's ids.
func ConsoleActor(user string) string { return "console:" + user }

// audit records what the request's user did. Failing to write the audit
// trail is logged loudly but does not fail the page: the alternative, a
// console that stops working when its audit table is locked, would push
// investigators to work around it.
func (c *Console) audit(r *http.Request, action, target, detail string) {
	c.record(r, AuditRecord{Action: action, Target: target, Detail: detail})
}

// record fills rec's time, user and address and stores it.
func (c *Console) record(r *http.Request, rec AuditRecord) {
	u := User{Name: "(anonymous)"}
	if ri := info(r); ri != nil {
		u = ri.user
	}
	c.recordAs(r.Context(), r, u, rec)
}

func (c *Console) auditAs(ctx context.Context, r *http.Request, u User, action, target, detail string) {
	c.recordAs(ctx, r, u, AuditRecord{Action: action, Target: target, Detail: detail})
}

func (c *Console) recordAs(ctx context.Context, r *http.Request, u User, rec AuditRecord) {
	rec.Time, rec.User, rec.Role, rec.Remote = c.now().UTC(), u.Name, u.Role, remote(r)
	action := rec.Action
	if err := c.state.AddAudit(ctx, rec); err != nil {
		c.log.Error("console: audit record lost", "user", u.Name, "action", action, "target", rec.Target, "err", err)
	}
	if !c.cfg.AuditEvents || c.access == nil {
		return
	}
	var sess string
	if ri := info(r); ri != nil {
		sess = ri.session.ID[:12]
	}
	ev, ok := accessEvent(rec, sess)
	if !ok {
		return
	}
	if err := c.access.Access(ctx, []event.Event{ev}); err != nil {
		c.log.Error("console: audit event not delivered to the engine", "user", u.Name, "action", action, "err", err)
	}
}

// accessEvent turns an audit record into an access event (FORMATS.md
// section 1) whose actor is the console user. Looking at a case or an
// agent's timeline is a search of workforce data; opening a customer's page
// is a view of that customer; a reveal names the agent as its subject;
// exports carry their row count. Refused requests are kept as denied.
func accessEvent(rec AuditRecord, session string) (event.Event, bool) {
	kind, id, _ := strings.Cut(rec.Target, ":")
	w := map[string]any{
		"id":    "console-" + randomHex(10),
		"time":  rec.Time.Format(time.RFC3339Nano),
		"actor": map[string]any{"id": ConsoleActor(rec.User), "ip": rec.Remote, "session": session},
		"app":   App,
		// Unknown fields are kept by the contract; rules can use them.
		"console_role":   string(rec.Role),
		"console_action": rec.Action,
	}
	switch rec.Action {
	case AuditLogin:
		w["action"] = "login"
	case AuditLoginFailed:
		w["action"], w["result"] = "login", "denied"
	case AuditLogout:
		w["action"] = "logout"
	case AuditViewCase, AuditViewActor:
		w["action"], w["resource"], w["query"] = "search", kind, rec.Target
	case AuditViewCustomer:
		w["action"], w["resource"], w["subject"] = "view", "customer_page", map[string]any{"id": id}
	case AuditReveal:
		w["action"], w["resource"], w["reason"] = "reveal", "agent_identity", rec.Detail
		w["subject"] = map[string]any{"id": rec.Target}
	case AuditExport, AuditSearch:
		w["action"], w["resource"], w["query"], w["count"] = "search", rec.Target, rec.Detail, rec.Count
		if rec.Action == AuditExport {
			w["action"] = "export"
			w["count"] = max(rec.Count, 2) // a bulk export names no single customer
		}
	case AuditDenied:
		w["action"], w["resource"], w["query"], w["result"] = "search", kind, rec.Target, "denied"
	default:
		return event.Event{}, false // case workflow and user admin are not data access
	}
	b, err := json.Marshal(w)
	if err != nil {
		return event.Event{}, false
	}
	ev, err := event.DecodeEvent(b)
	if err != nil {
		return event.Event{}, false
	}
	return ev, true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

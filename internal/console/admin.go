package console

import (
	"net/http"
	"strconv"
	"strings"
)

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	aq := AuditQuery{User: strings.TrimSpace(q.Get("user")), Action: q.Get("action"), Before: before, Limit: 200}
	recs, err := c.state.Audit(ctx, aq)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.viewer(ctx, info(r), nil)
	type auditRow struct {
		AuditRecord
		Shown string // the target as this viewer may see it
		Href  string
	}
	rows := make([]auditRow, len(recs))
	for i, rec := range recs {
		rows[i] = auditRow{AuditRecord: rec, Shown: rec.Target}
		kind, id, _ := strings.Cut(rec.Target, ":")
		switch kind {
		case "actor":
			a := v.Agent(id)
			rows[i].Shown, rows[i].Href = "agent "+a.Label, a.Href
		case "case":
			rows[i].Shown, rows[i].Href = "case "+shortID(id), "/cases/"+id
		case "customer":
			rows[i].Shown, rows[i].Href = "customer "+id, "/customers/"+id
		}
		if rec.Action == AuditReveal || rec.Action == AuditViewCase {
			rows[i].Detail = v.Mask(rec.Detail)
		}
	}
	var older int64
	if len(recs) == aq.Limit {
		older = recs[len(recs)-1].Seq
	}
	c.page(w, r, "audit", "Audit trail", map[string]any{
		"V": v, "Rows": rows, "Query": aq, "Older": older,
		"Actions": []string{AuditLogin, AuditLoginFailed, AuditLogout, AuditViewCase, AuditViewActor, AuditViewCustomer,
			AuditReveal, AuditSearch, AuditExport, AuditCaseAction, AuditDenied, AuditUserAdmin},
	})
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) {
	c.renderUsers(w, r, http.StatusOK, "", "")
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, status int, msg, ok string) {
	us, err := c.state.Users(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.pageStatus(w, r, status, "users", "Users", map[string]any{"Users": us, "Roles": Roles, "Error": msg, "OK": ok})
}

// usersSubmit adds a local user, or disables or enables one.
func (c *Console) usersSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := info(r).user
	name := strings.TrimSpace(r.PostFormValue("name"))
	switch r.PostFormValue("op") {
	case "add":
		role, err := ParseRole(r.PostFormValue("role"))
		if err != nil {
			c.renderUsers(w, r, http.StatusBadRequest, err.Error(), "")
			return
		}
		u := User{Name: name, Display: strings.TrimSpace(r.PostFormValue("display")), Role: role,
			Vendor: strings.TrimSpace(r.PostFormValue("vendor")), Via: "local", Created: c.now().UTC()}
		if err := ValidateUser(u); err != nil {
			c.renderUsers(w, r, http.StatusBadRequest, err.Error(), "")
			return
		}
		if _, err := c.state.User(ctx, name); err == nil {
			c.renderUsers(w, r, http.StatusBadRequest, "A user named "+name+" exists.", "")
			return
		}
		if u.PasswordHash, err = HashPassword(r.PostFormValue("password")); err != nil {
			c.renderUsers(w, r, http.StatusBadRequest, err.Error(), "")
			return
		}
		if err := c.state.PutUser(ctx, u); err != nil {
			c.fail(w, r, err)
			return
		}
		c.audit(r, AuditUserAdmin, "user:"+name, "added as "+string(role))
		c.renderUsers(w, r, http.StatusOK, "", "Added "+name+".")
	case "disable", "enable":
		u, err := c.state.User(ctx, name)
		if err != nil {
			c.renderUsers(w, r, http.StatusBadRequest, "No user named "+name+".", "")
			return
		}
		if u.Name == me.Name {
			c.renderUsers(w, r, http.StatusBadRequest, "You cannot disable yourself.", "")
			return
		}
		u.Disabled = r.PostFormValue("op") == "disable"
		if err := c.state.PutUser(ctx, u); err != nil {
			c.fail(w, r, err)
			return
		}
		if u.Disabled {
			if err := c.state.DeleteSessions(ctx, u.Name); err != nil {
				c.fail(w, r, err)
				return
			}
		}
		c.audit(r, AuditUserAdmin, "user:"+name, r.PostFormValue("op")+"d")
		c.renderUsers(w, r, http.StatusOK, "", name+" is "+r.PostFormValue("op")+"d.")
	default:
		c.renderUsers(w, r, http.StatusBadRequest, "Unknown operation.", "")
	}
}

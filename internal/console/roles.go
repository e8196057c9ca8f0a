package console

import "fmt"

// Role is what a console user is allowed to do.
type Role string

// The roles. Each sees agents pseudonymised until it reveals one with a
// reason; what differs is what it may see and change.
const (
	// Analyst triages cases: views, comments, assigns to self, marks true or
	// false positive, closes; runs attribution; reveals only agents with a case.
	Analyst Role = "analyst"
	// Lead does what an analyst does, assigns to others, triggers responses
	// and reveals any agent.
	Lead Role = "lead"
	// PrivacyOfficer answers breach questions (exposure, attribution,
	// exports), reads cases and the console's own audit trail.
	PrivacyOfficer Role = "privacy_officer"
	// VendorSupervisor sees only the agents and cases of one vendor.
	VendorSupervisor Role = "vendor_supervisor"
	// Admin can do everything, including managing users.
	Admin Role = "admin"
)

// Roles lists every role, least powerful first.
var Roles = []Role{VendorSupervisor, Analyst, PrivacyOfficer, Lead, Admin}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want analyst, lead, privacy_officer, vendor_supervisor or admin)", s)
}

// Label is the role as people write it.
func (r Role) Label() string {
	switch r {
	case Analyst:
		return "Analyst"
	case Lead:
		return "Lead"
	case PrivacyOfficer:
		return "Privacy officer"
	case VendorSupervisor:
		return "Vendor supervisor"
	case Admin:
		return "Admin"
	}
	return string(r)
}

// Perm is one thing a role may do.
type Perm int

// Permissions.
const (
	PermViewCases    Perm = iota // cases, actors, rules, roster (scoped for vendor supervisors)
	PermWorkCases                // comment, verdict, close, reopen, assign to self
	PermAssignOthers             // assign a case to someone else
	PermRespond                  // trigger a configured response
	PermRevealAny                // reveal any agent's identity (others: only with a case, or own vendor)
	PermComment                  // comment on a case
	PermCustomers                // open a customer's page
	PermBreach                   // exposure and attribution, with CSV export
	PermAudit                    // read the console's audit trail
	PermUsers                    // manage users
)

var perms = map[Role][]Perm{
	Analyst:          {PermViewCases, PermWorkCases, PermComment, PermRespond, PermCustomers, PermBreach},
	Lead:             {PermViewCases, PermWorkCases, PermComment, PermAssignOthers, PermRespond, PermRevealAny, PermCustomers, PermBreach},
	PrivacyOfficer:   {PermViewCases, PermComment, PermRevealAny, PermCustomers, PermBreach, PermAudit},
	VendorSupervisor: {PermViewCases, PermComment},
	Admin:            {PermViewCases, PermWorkCases, PermComment, PermAssignOthers, PermRespond, PermRevealAny, PermCustomers, PermBreach, PermAudit, PermUsers},
}

// Can reports whether role r has permission p.
func (r Role) Can(p Perm) bool {
	for _, q := range perms[r] {
		if q == p {
			return true
		}
	}
	return false
}

// ValidateUser checks a user's name, role and vendor scope.
func ValidateUser(u User) error {
	if u.Name == "" || len(u.Name) > 100 {
		return fmt.Errorf("a user name must be 1 to 100 characters")
	}
	for _, r := range u.Name {
		if r <= ' ' || r == ':' || r == '/' || r == 0x7f {
			return fmt.Errorf("user name %q: no spaces, colons, slashes or control characters", u.Name)
		}
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		return err
	}
	if u.Role == VendorSupervisor && u.Vendor == "" {
		return fmt.Errorf("a vendor supervisor needs a vendor")
	}
	if u.Role != VendorSupervisor && u.Vendor != "" {
		return fmt.Errorf("only a vendor supervisor is scoped to a vendor")
	}
	return nil
}

var permNames = map[string]Perm{
	"view": PermViewCases, "work": PermWorkCases, "assign": PermAssignOthers, "respond": PermRespond,
	"reveal_any": PermRevealAny, "comment": PermComment, "customers": PermCustomers, "breach": PermBreach,
	"audit": PermAudit, "users": PermUsers,
}

// May reports whether the user's role has the named permission; templates
// use it to show only what the user can use.
func (u User) May(perm string) bool {
	p, ok := permNames[perm]
	return ok && !u.Disabled && u.Role.Can(p)
}

package console

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemState is a State in memory: for tests, and for a console whose
// decisions need not outlive the process.
type MemState struct {
	mu       sync.Mutex
	users    map[string]User
	sessions map[string]Session
	cases    map[string]CaseState
	actions  []CaseAction
	reveals  []Reveal
	audit    []AuditRecord
	secrets  map[string][]byte
}

// NewMemState returns an empty MemState.
func NewMemState() *MemState {
	return &MemState{
		users:    map[string]User{},
		sessions: map[string]Session{},
		cases:    map[string]CaseState{},
		secrets:  map[string][]byte{},
	}
}

func (m *MemState) User(_ context.Context, name string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return User{}, ErrNotFound
	}
	return u, nil
}

func (m *MemState) Users(context.Context) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]User, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *MemState) PutUser(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[u.Name] = u
	return nil
}

func (m *MemState) CreateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID] = s
	return nil
}

func (m *MemState) Session(_ context.Context, id string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return Session{}, ErrNotFound
	}
	return s, nil
}

func (m *MemState) TouchSession(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[id]; ok {
		s.LastSeen = at
		m.sessions[id] = s
	}
	return nil
}

func (m *MemState) DeleteSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

func (m *MemState) DeleteSessions(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.sessions {
		if s.User == user {
			delete(m.sessions, id)
		}
	}
	return nil
}

func (m *MemState) CaseStates(context.Context) (map[string]CaseState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]CaseState, len(m.cases))
	for k, v := range m.cases {
		v.Rules = slices.Clone(v.Rules)
		out[k] = v
	}
	return out, nil
}

func (m *MemState) CaseActions(_ context.Context, caseID string) ([]CaseAction, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []CaseAction
	for _, a := range m.actions {
		if a.CaseID == caseID {
			out = append(out, a)
		}
	}
	return out, nil
}

func (m *MemState) AddCaseAction(_ context.Context, a CaseAction, st CaseState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a.Seq = int64(len(m.actions) + 1)
	m.actions = append(m.actions, a)
	st.Rules = slices.Clone(st.Rules)
	m.cases[st.CaseID] = st
	return nil
}

func (m *MemState) AddReveal(_ context.Context, r Reveal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reveals = append(m.reveals, r)
	return nil
}

func (m *MemState) Reveals(_ context.Context, user string, at time.Time) ([]Reveal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Reveal
	for _, r := range m.reveals {
		if r.User == user && at.Before(r.Until) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *MemState) AddAudit(_ context.Context, r AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.Seq = int64(len(m.audit) + 1)
	m.audit = append(m.audit, r)
	return nil
}

func (m *MemState) Audit(_ context.Context, q AuditQuery) ([]AuditRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []AuditRecord
	for i := len(m.audit) - 1; i >= 0 && len(out) < limit; i-- {
		r := m.audit[i]
		if (q.Before > 0 && r.Seq >= q.Before) || (q.User != "" && r.User != q.User) || (q.Action != "" && r.Action != q.Action) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func (m *MemState) Secret(_ context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.secrets[name]; ok {
		return b, nil
	}
	b, err := gen()
	if err != nil {
		return nil, err
	}
	m.secrets[name] = b
	return b, nil
}

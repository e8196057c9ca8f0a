package sink

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/custos-io/custos/internal/finding"
)

// OCSF Detection Finding constants. The mapping follows schema 1.3.0:
// https://schema.ocsf.io/1.3.0/classes/detection_finding
const (
	OCSFVersion          = "1.3.0"
	ocsfClassUID         = 2004
	ocsfCategoryUID      = 2
	ocsfActivityCreate   = 1
	ocsfActivityUpdate   = 2
	ocsfAnalyticRule     = 1
	ocsfAnalyticBehavior = 2
	ocsfAnalyticOther    = 99
)

// Product names the reporting product in OCSF metadata and CEF headers.
type Product struct {
	Name, Vendor, Version string
}

// DefaultProduct is Custos at an unknown version; the command line fills in
// its build version.
var DefaultProduct = Product{Name: "Custos", Vendor: "Custos", Version: "dev"}

// The shapes below hold only what Custos fills in; omitempty keeps optional
// attributes out when there is nothing to say.

type ocsfEvent struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	Time         int64  `json:"time"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status"`
	Message      string `json:"message"`
	IsAlert      bool   `json:"is_alert"`
	RiskScore    int    `json:"risk_score"`
	RiskLevelID  *int   `json:"risk_level_id,omitempty"`
	RiskLevel    string `json:"risk_level,omitempty"`

	Metadata    ocsfMetadata    `json:"metadata"`
	FindingInfo ocsfFindingInfo `json:"finding_info"`
	Actor       ocsfActor       `json:"actor"`
	Resources   []ocsfResource  `json:"resources,omitempty"`
	Evidences   []ocsfEvidence  `json:"evidences,omitempty"`
	Unmapped    map[string]any  `json:"unmapped"`
}

type ocsfMetadata struct {
	Version  string      `json:"version"`
	Product  ocsfProduct `json:"product"`
	UID      string      `json:"uid"`
	Profiles []string    `json:"profiles"`
	LogName  string      `json:"log_name,omitempty"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
}

type ocsfFindingInfo struct {
	UID           string             `json:"uid"`
	Title         string             `json:"title"`
	Desc          string             `json:"desc"`
	Types         []string           `json:"types"`
	CreatedTime   int64              `json:"created_time"`
	Analytic      ocsfAnalytic       `json:"analytic"`
	RelatedEvents []ocsfRelatedEvent `json:"related_events,omitempty"`
}

type ocsfAnalytic struct {
	UID    string `json:"uid"`
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

type ocsfRelatedEvent struct {
	UID      string `json:"uid"`
	TypeUID  int    `json:"type_uid,omitempty"`
	TypeName string `json:"type_name,omitempty"`
}

type ocsfActor struct {
	User ocsfUser `json:"user"`
}

type ocsfUser struct {
	UID string `json:"uid"`
}

type ocsfResource struct {
	UID  string `json:"uid"`
	Type string `json:"type"`
}

type ocsfEvidence struct {
	Data map[string]string `json:"data"`
}

var ocsfSeverity = map[finding.Severity]struct {
	id      int
	caption string
}{
	finding.Info:     {1, "Informational"},
	finding.Low:      {2, "Low"},
	finding.Medium:   {3, "Medium"},
	finding.High:     {4, "High"},
	finding.Critical: {5, "Critical"},
}

// risk_level_id of the Finding class: 0 Info .. 4 Critical.
var ocsfRiskLevel = map[finding.Severity]string{
	finding.Info: "Info", finding.Low: "Low", finding.Medium: "Medium",
	finding.High: "High", finding.Critical: "Critical",
}

// EncodeOCSF renders one outbox record as an OCSF Detection Finding (class
// 2004), one JSON object without a trailing newline.
func EncodeOCSF(r *Record, p Product) ([]byte, error) {
	f := r.Finding
	ms := f.Time.UnixMilli()
	activity, activityName := ocsfActivityCreate, "Create"
	if r.Revision > 0 {
		activity, activityName = ocsfActivityUpdate, "Update"
	}
	sev, ok := ocsfSeverity[f.Severity]
	if !ok {
		// 99 Other carries the source's own label in severity.
		sev.id, sev.caption = 99, string(f.Severity)
	}
	ev := ocsfEvent{
		ActivityID:   activity,
		ActivityName: activityName,
		CategoryUID:  ocsfCategoryUID,
		CategoryName: "Findings",
		ClassUID:     ocsfClassUID,
		ClassName:    "Detection Finding",
		TypeUID:      ocsfClassUID*100 + activity,
		TypeName:     "Detection Finding: " + activityName,
		Time:         ms,
		SeverityID:   sev.id,
		Severity:     sev.caption,
		Message:      f.Summary,
		IsAlert:      true,
		RiskScore:    int(math.Round(f.Risk)),
		Metadata: ocsfMetadata{
			Version:  OCSFVersion,
			Product:  ocsfProduct{Name: p.Name, VendorName: p.Vendor, Version: p.Version},
			UID:      DeliveryID(r),
			Profiles: []string{"host"}, // the Host profile brings actor
		},
		FindingInfo: ocsfFindingInfo{
			UID:         f.ID,
			Title:       ocsfTitle(f),
			Desc:        f.Summary,
			Types:       []string{"Insider Risk", ocsfKind(f.Kind)},
			CreatedTime: ms,
		},
		Actor:    ocsfActor{User: ocsfUser{UID: f.Actor.ID}},
		Unmapped: ocsfUnmapped(r),
	}
	ev.StatusID, ev.Status = ocsfStatus(f)
	if lvl, ok := ocsfRiskLevel[f.Severity]; ok {
		id := f.Severity.Rank() - 1
		ev.RiskLevelID, ev.RiskLevel = &id, lvl
	}
	switch {
	case f.Kind == finding.KindCase:
		ev.FindingInfo.Analytic = ocsfAnalytic{UID: "custos:case", Name: "Risk accumulation", TypeID: ocsfAnalyticOther, Type: "Risk Accumulation"}
		for _, a := range f.Alerts {
			// Alerts are Detection Findings too; their metadata.uid is
			// their id, as the related_event object asks.
			ev.FindingInfo.RelatedEvents = append(ev.FindingInfo.RelatedEvents,
				ocsfRelatedEvent{UID: a, TypeUID: ocsfClassUID*100 + ocsfActivityCreate, TypeName: "Detection Finding: Create"})
		}
	case strings.HasPrefix(f.Rule, "anomaly:"):
		ev.FindingInfo.Analytic = ocsfAnalytic{UID: f.Rule, Name: f.Rule, TypeID: ocsfAnalyticBehavior, Type: "Behavioral"}
	default:
		ev.FindingInfo.Analytic = ocsfAnalytic{UID: f.Rule, Name: f.Rule, TypeID: ocsfAnalyticRule, Type: "Rule"}
	}
	for _, s := range f.Subjects {
		ev.Resources = append(ev.Resources, ocsfResource{UID: s, Type: "Customer"})
	}
	for _, e := range f.Evidence {
		ev.Evidences = append(ev.Evidences, ocsfEvidence{Data: map[string]string{"event_uid": e}})
	}
	b, err := json.Marshal(&ev)
	if err != nil {
		return nil, fmt.Errorf("ocsf: encoding finding %s: %w", f.ID, err)
	}
	return b, nil
}

func ocsfTitle(f *finding.Finding) string {
	if f.Kind == finding.KindCase {
		return "Insider-risk case for " + f.Actor.ID
	}
	return f.Rule
}

func ocsfKind(k finding.Kind) string {
	if k == finding.KindCase {
		return "Case"
	}
	return "Alert"
}

// ocsfStatus maps a finding's workflow status to the Finding class's
// status_id: 1 New, 2 In Progress, 3 Suppressed, 4 Resolved, 99 Other.
func ocsfStatus(f *finding.Finding) (int, string) {
	switch strings.ToLower(f.Status) {
	case "", "open", "new":
		return 1, "New"
	case "in_progress", "investigating", "assigned":
		return 2, "In Progress"
	case "suppressed", "false_positive", "benign":
		return 3, "Suppressed"
	case "resolved", "closed":
		return 4, "Resolved"
	}
	return 99, f.Status
}

// ocsfUnmapped keeps what the class has no attribute for, so nothing of the
// finding is lost on the way.
func ocsfUnmapped(r *Record) map[string]any {
	f := r.Finding
	u := map[string]any{
		"kind":     string(f.Kind),
		"risk":     f.Risk,
		"severity": string(f.Severity),
	}
	if r.Revision > 0 {
		u["revision"] = r.Revision
	}
	if f.Rule != "" {
		u["rule"] = f.Rule
	}
	if f.Status != "" {
		u["status"] = f.Status
	}
	if len(f.Details) > 0 {
		u["details"] = f.Details
	}
	return map[string]any{"custos": u}
}

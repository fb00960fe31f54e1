package audit

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// OCSFVersion is the version of the OCSF schema MarshalOCSF writes.
const OCSFVersion = "1.3.0"

// OCSF activity IDs of each class, chosen from the last part of the
// action code ("user.password.reset" -> "reset"). Activities the class
// has no name for are 99, Other.
var ocsfActivities = map[Class]map[string]int{
	ClassAccountChange: {"create": 1, "enable": 2, "change": 3, "reset": 4, "suspend": 5, "disable": 5,
		"delete": 6, "remove": 6, "offboard": 6, "lock": 9, "unlock": 12},
	ClassAuthentication:       {"sign_in": 1, "use": 1, "sign_out": 2, "end": 2},
	ClassEntityManagement:     {"create": 1, "read": 2, "set": 3, "update": 3, "delete": 4, "remove": 4},
	ClassUserAccessManagement: {"set": 1, "assign": 1, "grant": 1, "remove": 2, "revoke": 2},
	ClassGroupManagement:      {"add": 3, "remove": 4, "delete": 5, "create": 6},
	ClassAPIActivity:          {"create": 1, "read": 2, "list": 2, "set": 3, "update": 3, "delete": 4, "remove": 4},
	ClassDatastoreActivity: {"read": 1, "get": 1, "download": 1, "update": 2, "set": 2, "list": 4,
		"write": 5, "upload": 5, "put": 5, "create": 6, "delete": 7, "remove": 7, "expire": 7},
}

// OCSF status and severity IDs.
const (
	ocsfStatusSuccess = 1
	ocsfStatusFailure = 2

	ocsfSeverityInformational = 1
	ocsfSeverityLow           = 2
	ocsfSeverityMedium        = 3
)

type ocsfEvent struct {
	ClassUID     int            `json:"class_uid"`
	CategoryUID  int            `json:"category_uid"`
	ActivityID   int            `json:"activity_id"`
	TypeUID      int            `json:"type_uid"`
	SeverityID   int            `json:"severity_id"`
	StatusID     int            `json:"status_id"`
	Status       string         `json:"status"`
	StatusDetail string         `json:"status_detail,omitempty"`
	Time         int64          `json:"time"`
	Message      string         `json:"message"`
	Metadata     ocsfMetadata   `json:"metadata"`
	Actor        ocsfActor      `json:"actor"`
	User         *ocsfUser      `json:"user,omitempty"`
	Entity       *ocsfResource  `json:"entity,omitempty"`
	API          *ocsfAPI       `json:"api,omitempty"`
	Resources    []ocsfResource `json:"resources,omitempty"`
	SrcEndpoint  *ocsfEndpoint  `json:"src_endpoint,omitempty"`
	HTTPRequest  *ocsfHTTP      `json:"http_request,omitempty"`
	Unmapped     map[string]any `json:"unmapped,omitempty"`
}

type ocsfMetadata struct {
	Version        string      `json:"version"`
	Product        ocsfProduct `json:"product"`
	UID            string      `json:"uid"`
	CorrelationUID string      `json:"correlation_uid,omitempty"`
	TenantUID      string      `json:"tenant_uid,omitempty"`
	LogName        string      `json:"log_name"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
}

type ocsfActor struct {
	User ocsfUser `json:"user"`
}

type ocsfUser struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"name,omitempty"`
}

type ocsfResource struct {
	UID string `json:"uid"`
}

type ocsfAPI struct {
	Operation string       `json:"operation"`
	Request   *ocsfRequest `json:"request,omitempty"`
}

type ocsfRequest struct {
	UID string `json:"uid"`
}

type ocsfEndpoint struct {
	IP string `json:"ip"`
}

type ocsfHTTP struct {
	UserAgent string `json:"user_agent"`
}

// MarshalOCSF returns e as one OCSF event of its class, on one line of
// JSON without a final newline. version is Strongroom's, for the product
// in the metadata; the event's sequence number is the metadata's uid.
// What OCSF has no field for (the outcome "denied", the policy clause,
// the privileged flag, details) goes under "unmapped".
func MarshalOCSF(e *Event, version string) ([]byte, error) {
	verb := e.Action[strings.LastIndexByte(e.Action, '.')+1:]
	activity, ok := ocsfActivities[e.Class][verb]
	if !ok {
		activity = 99
	}
	o := ocsfEvent{
		ClassUID:    int(e.Class),
		CategoryUID: int(e.Class) / 1000,
		ActivityID:  activity,
		TypeUID:     int(e.Class)*100 + activity,
		SeverityID:  ocsfSeverityInformational,
		StatusID:    ocsfStatusSuccess,
		Status:      "Success",
		Time:        e.Time.UnixMilli(),
		Message:     e.Action + " " + string(e.Outcome),
		Metadata: ocsfMetadata{
			Version:        OCSFVersion,
			Product:        ocsfProduct{Name: "Strongroom", VendorName: "Strongroom", Version: version},
			UID:            strconv.FormatUint(e.Seq, 10),
			CorrelationUID: string(e.RequestID),
			TenantUID:      string(e.Tenant),
			LogName:        "audit",
		},
		Actor:    ocsfActor{User: ocsfUser{UID: string(e.Actor.User), Name: e.Actor.Name}},
		Unmapped: map[string]any{"action": e.Action},
	}
	switch e.Outcome {
	case Failure:
		o.SeverityID, o.StatusID, o.Status = ocsfSeverityLow, ocsfStatusFailure, "Failure"
	case Denied:
		o.SeverityID, o.StatusID, o.Status = ocsfSeverityMedium, ocsfStatusFailure, "Failure"
		o.Unmapped["outcome"] = string(Denied)
	}
	o.StatusDetail = e.Reason
	if e.Clause != "" {
		o.Unmapped["clause"] = e.Clause
	}
	if e.Privileged {
		o.Unmapped["privileged"] = true
	}
	if len(e.Details) > 0 {
		o.Unmapped["details"] = e.Details
	}
	if e.SourceAddr != "" {
		o.SrcEndpoint = &ocsfEndpoint{IP: e.SourceAddr}
	}
	if e.UserAgent != "" {
		o.HTTPRequest = &ocsfHTTP{UserAgent: e.UserAgent}
	}
	switch {
	case e.Resource == "":
	case (e.Class == ClassAccountChange || e.Class == ClassAuthentication || e.Class == ClassUserAccessManagement) &&
		strings.HasPrefix(e.Resource, "usr_"):
		o.User = &ocsfUser{UID: e.Resource}
	case e.Class == ClassEntityManagement:
		o.Entity = &ocsfResource{UID: e.Resource}
	case e.Class == ClassAPIActivity:
		o.Resources = []ocsfResource{{UID: e.Resource}}
	default:
		o.Unmapped["resource"] = e.Resource
	}
	if e.Class == ClassAPIActivity {
		o.API = &ocsfAPI{Operation: e.Action}
		if e.RequestID != "" {
			o.API.Request = &ocsfRequest{UID: string(e.RequestID)}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

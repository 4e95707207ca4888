package logemitter

import "strings"

// Tag keys, as Cloud Foundry sets them on envelopes.
const (
	TagSourceType        = "source_type"
	TagInstanceID        = "instance_id"
	TagAppID             = "app_id"
	TagAppName           = "app_name"
	TagOrganizationID    = "organization_id"
	TagOrganizationName  = "organization_name"
	TagSpaceID           = "space_id"
	TagSpaceName         = "space_name"
	TagProcessType       = "process_type"
	TagProcessID         = "process_id"
	TagProcessInstanceID = "process_instance_id"
	TagOrigin            = "origin"
)

// source_type values; the cf CLI prints "[<source_type>/<instance_id>]".
const (
	SourceTypeStaging = "STG"  // staging output
	SourceTypeRouter  = "RTR"  // gorouter access logs
	SourceTypeAPI     = "API"  // Cloud Controller app events
	SourceTypeCell    = "CELL" // rep: container lifecycle messages
	SourceTypeSSH     = "SSH"
)

// AppSourceType is the source_type of an app process's own output,
// "APP/PROC/WEB" for process type web.
func AppSourceType(processType string) string {
	return "APP/PROC/" + strings.ToUpper(processType)
}

// AppTags are the tags Cloud Foundry puts on an app's envelopes. Build
// the map once per instance (or per staging task) and reuse it: the
// emitter never writes it.
type AppTags struct {
	AppID, AppName     string
	OrgID, OrgName     string
	SpaceID, SpaceName string
	ProcessType        string
	ProcessID          string
	// InstanceID is the instance index ("0"), also the envelope's
	// instance_id; ProcessInstanceID the instance guid.
	InstanceID        string
	ProcessInstanceID string
}

// Map returns the tags with source_type set to sourceType; empty fields
// are left out.
func (a AppTags) Map(sourceType string) map[string]string {
	m := make(map[string]string, 10)
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set(TagSourceType, sourceType)
	set(TagAppID, a.AppID)
	set(TagAppName, a.AppName)
	set(TagOrganizationID, a.OrgID)
	set(TagOrganizationName, a.OrgName)
	set(TagSpaceID, a.SpaceID)
	set(TagSpaceName, a.SpaceName)
	set(TagProcessType, a.ProcessType)
	set(TagProcessID, a.ProcessID)
	set(TagInstanceID, a.InstanceID)
	set(TagProcessInstanceID, a.ProcessInstanceID)
	return m
}

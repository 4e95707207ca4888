package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/logemitter"
)

// API log lines: the Cloud Controller writes what happens to an app into
// the app's own log, as CF's AppLogEmitter does — source_id the app guid,
// source_type "API", instance "0", so `cf logs` shows "[API/0] OUT Created
// app with guid …". The texts are CF's (app_event_repository.rb,
// build_event_repository.rb, process_event_repository.rb).

// LogSink receives log envelopes; logemitter.Emitter is one. Emitting
// must not block.
type LogSink interface {
	Log(logemitter.Log)
}

// APILogger writes API log lines. A nil *APILogger, or one without a
// sink, writes nothing.
type APILogger struct {
	store  *store.Store
	sink   LogSink
	logger *slog.Logger
}

// NewAPILogger returns an APILogger; sink nil disables it.
func NewAPILogger(st *store.Store, sink LogSink, logger *slog.Logger) *APILogger {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &APILogger{store: st, sink: sink, logger: logger}
}

// AppLog writes message to the log of the app with guid app, tagged with
// the app, space and organization names (looked up; an app that is gone
// gets its guid only, as CF does).
func (l *APILogger) AppLog(ctx context.Context, app, message string) {
	if l == nil || l.sink == nil {
		return
	}
	a, err := l.store.GetApp(ctx, app)
	if err != nil {
		l.emit(logemitter.AppTags{AppID: app, InstanceID: "0"}, message)
		return
	}
	l.log(ctx, a, store.Space{}, message)
}

// log writes message for app; sp may be the zero Space (looked up).
func (l *APILogger) log(ctx context.Context, app store.App, sp store.Space, message string) {
	if l == nil || l.sink == nil {
		return
	}
	tags := logemitter.AppTags{AppID: app.GUID, AppName: app.Name, SpaceID: app.SpaceGUID, InstanceID: "0"}
	if sp.GUID == "" {
		if s, err := l.store.GetSpace(ctx, app.SpaceGUID); err == nil {
			sp = s
		}
	}
	tags.SpaceName, tags.OrgID = sp.Name, sp.OrgGUID
	if sp.OrgGUID != "" {
		if o, err := l.store.GetOrg(ctx, sp.OrgGUID); err == nil {
			tags.OrgName = o.Name
		}
	}
	l.emit(tags, message)
}

func (l *APILogger) emit(tags logemitter.AppTags, message string) {
	l.sink.Log(logemitter.Log{
		SourceID: tags.AppID, InstanceID: "0", Message: message,
		Tags: tags.Map(logemitter.SourceTypeAPI),
	})
}

// apiLog writes an API log line for app (sp may be the zero Space).
func (s *Server) apiLog(ctx context.Context, app store.App, sp store.Space, message string) {
	s.applog.log(context.WithoutCancel(ctx), app, sp, message)
}

// apiLogApp writes an API log line for the app with guid app.
func (s *Server) apiLogApp(ctx context.Context, app, message string) {
	s.applog.AppLog(context.WithoutCancel(ctx), app, message)
}

// API log texts (CF's).
func logAppCreated(app string) string   { return "Created app with guid " + app }
func logAppStarting(app string) string  { return "Starting app with guid " + app }
func logAppStopping(app string) string  { return "Stopping app with guid " + app }
func logAppRestarted(app string) string { return "Restarted app with guid " + app }
func logAppDeleted(app string) string   { return "Deleted app with guid " + app }
func logAppUpdated(app string, request map[string]any) string {
	return "Updated app with guid " + app + " (" + rubyInspect(request) + ")"
}
func logBuildCreate(app string) string    { return "Creating build for app with guid " + app }
func logBuildStaged(build string) string  { return "Staging complete for build " + build }
func logBuildFailed(build string) string  { return "Staging failed for build " + build }
func logProcessScale(typ string) string   { return `Scaling process: "` + typ + `"` }
func logProcessUpdate(typ string) string  { return `Updating process: "` + typ + `"` }
func logProcessCrashed(typ string) string { return `Process has crashed with type: "` + typ + `"` }
func logTerminate(typ string, i int) string {
	return fmt.Sprintf(`Terminating process: "%s", index: "%d"`, typ, i)
}

// censoredFields are hidden in "Updated app" lines (CF's
// AppEventRepository::CENSORED_FIELDS).
var censoredFields = []string{"encrypted_environment_json", "command", "environment_json", "environment_variables", "docker_credentials"}

// censor returns request with CF's censored fields hidden.
func censor(request map[string]any) map[string]any {
	out := make(map[string]any, len(request))
	for k, v := range request {
		out[k] = v
	}
	for _, k := range censoredFields {
		if _, ok := out[k]; ok {
			out[k] = "[PRIVATE DATA HIDDEN]"
		}
	}
	return out
}

// rubyInspect formats v as Ruby's Hash#inspect does (CF logs request
// hashes that way): {"state"=>"STARTED", "instances"=>2}. Map keys are
// sorted (Go maps have no insertion order).
func rubyInspect(v any) string {
	var b strings.Builder
	writeRuby(&b, v)
	return b.String()
}

func writeRuby(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("nil")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(k))
			b.WriteString("=>")
			writeRuby(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRuby(b, e)
		}
		b.WriteByte(']')
	case string:
		b.WriteString(strconv.Quote(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			b.WriteString(strconv.FormatInt(int64(x), 10))
		} else {
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	default:
		// Anything else (structs, raw JSON): through its JSON form.
		data, err := json.Marshal(x)
		if err != nil {
			b.WriteString("nil")
			return
		}
		var g any
		if json.Unmarshal(data, &g) != nil {
			b.WriteString("nil")
			return
		}
		writeRuby(b, g)
	}
}

package apierr

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   int
		wantTitle  string
		wantDetail string
	}{
		{"not found", NotFound("Droplet"), 404, 10010, "CF-ResourceNotFound", "Droplet not found"},
		{"wrapped", fmt.Errorf("get app: %w", NotFound("App")), 404, 10010, "CF-ResourceNotFound", "App not found"},
		{"unknown request", UnknownRequest(), 404, 10000, "CF-NotFound", "Unknown request"},
		{"invalid token", InvalidAuthToken(), 401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token"},
		{"internal hides cause", fmt.Errorf("pq: password for user"), 500, 10001, "CF-ServerError", "An unknown error occurred."},
		{"org exists", AlreadyExists("Organization 'o' already exists."), 422, 10008, "CF-UnprocessableEntity", "Organization 'o' already exists."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			Write(rec, tt.err)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			var env struct {
				Errors []struct {
					Code   any    `json:"code"`
					Title  string `json:"title"`
					Detail string `json:"detail"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			if len(env.Errors) != 1 {
				t.Fatalf("errors %+v", env.Errors)
			}
			e := env.Errors[0]
			// The cf CLI needs a JSON number for code.
			if c, ok := e.Code.(float64); !ok || int(c) != tt.wantCode || e.Title != tt.wantTitle || e.Detail != tt.wantDetail {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

func TestRoleExistsMatchesTheCLI(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`User '.*' already has '.*' role.*`)
	if d := RoleExists("bob", "space_developer", "space", "dev").Detail; !re.MatchString(d) {
		t.Fatalf("%q does not match the CLI's regex", d)
	}
}

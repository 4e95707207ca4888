package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzParseListParams feeds arbitrary query strings to the SCIM list
// parameter parser: it must return a bounded result or a SCIM 400, never
// panic.
func FuzzParseListParams(f *testing.F) {
	for _, s := range []string{
		"filter=userName+eq+%22bob%22+and+origin+eq+%22uaa%22&attributes=id,origin",
		"startIndex=2&count=1000&sortBy=userName&sortOrder=descending",
		"count=-1", "startIndex=0", "filter=(((", "attributes=" + string(bytes.Repeat([]byte("a,"), 60)),
		"filter=not+(active+eq+true)+or+meta.lastModified+gt+%222026-01-01T00:00:00Z%22",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := parseListParams(q)
		if err != nil {
			oe, ok := err.(*oauthError)
			if !ok || oe.Status != http.StatusBadRequest {
				t.Fatalf("error %v is not a SCIM 400", err)
			}
			return
		}
		if p.Count < 0 || p.Count > maxCount || p.StartIndex < 1 || len(p.Attributes) > maxAttributes {
			t.Fatalf("out of bounds: %+v", p)
		}
	})
}

// FuzzUserBody feeds arbitrary JSON to the user body decoder and
// validator.
func FuzzUserBody(f *testing.F) {
	for _, s := range []string{
		`{"userName":"bob","password":"pw","origin":"","name":{"familyName":"b","givenName":"b"},"emails":[{"value":"bob","primary":true}]}`,
		`{"userName":"","emails":[]}`, `{"userName":123}`, `[]`, `{"emails":[{"value":null}]}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := httptest.NewRequest(http.MethodPost, "/Users", bytes.NewReader(data))
		var b userBody
		if err := decodeJSON(r, &b); err != nil {
			if _, ok := err.(*oauthError); !ok {
				t.Fatalf("decode error %v is not a UAA error", err)
			}
			return
		}
		if err := b.validate(false); err == nil {
			if b.UserName == "" || b.Origin == "" || b.primaryEmail() == "" || len(b.Password) > maxPasswordBytes {
				t.Fatalf("accepted an invalid body: %+v", b)
			}
		}
		_, _ = json.Marshal(b)
	})
}

func TestScopeHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scope    string
		patterns []string
		want     bool
	}{
		{"cloud_controller.read", []string{"cloud_controller.read"}, true},
		{"cloud_controller.read", []string{"cloud_controller.*"}, true},
		{"cloud_controller.", []string{"cloud_controller.*"}, false},
		{"scim.read", []string{"cloud_controller.*"}, false},
		{"openid", nil, false},
	}
	for _, tt := range tests {
		if got := scopeAllowed(tt.scope, tt.patterns); got != tt.want {
			t.Errorf("scopeAllowed(%q, %v) = %v, want %v", tt.scope, tt.patterns, got, tt.want)
		}
	}
	if _, err := narrowScopes([]string{"a", "b"}, "a c"); err == nil || err.Code != "invalid_scope" {
		t.Errorf("narrowScopes with a disallowed scope: %v", err)
	}
	if got, err := narrowScopes([]string{"a", "b"}, "b"); err != nil || len(got) != 1 || got[0] != "b" {
		t.Errorf("narrowScopes(b) = %v, %v", got, err)
	}
}

func TestSecretCache(t *testing.T) {
	t.Parallel()
	c := newSecretCache()
	h, err := hashSecret("s3cret", 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		secret string
		want   bool
	}{{"wrong", false}, {"s3cret", true}, {"s3cret", true}, {"wrong", false}} {
		if got := c.check(h, tc.secret); got != tc.want {
			t.Fatalf("check %d (%q) = %v, want %v", i, tc.secret, got, tc.want)
		}
	}
	other, _ := hashSecret("other", 4)
	if c.check(other, "s3cret") {
		t.Fatal("a cached secret matched another hash")
	}
}

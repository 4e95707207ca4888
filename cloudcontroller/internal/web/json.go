package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
)

// Link is a hypermedia link.
type Link struct {
	Href   string `json:"href"`
	Method string `json:"method,omitempty"`
}

// GUIDRef is {"guid": …}.
type GUIDRef struct {
	GUID string `json:"guid"`
}

// ToOne is a to-one relationship; Data nil renders as null.
type ToOne struct {
	Data *GUIDRef `json:"data"`
}

func toOne(guid string) ToOne {
	if guid == "" {
		return ToOne{}
	}
	return ToOne{Data: &GUIDRef{GUID: guid}}
}

// Metadata is labels and annotations.
type Metadata struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// timestamp formats a time as CF does (RFC 3339, seconds, UTC).
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// list is a paginated list response.
type list struct {
	Pagination query.Pagination `json:"pagination"`
	Resources  any              `json:"resources"`
	Included   map[string]any   `json:"included,omitempty"`
}

// writeJSON writes v as the response body. A list is streamed resource by
// resource (see writeList); anything else is encoded whole.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if l, ok := v.(list); ok {
		w.WriteHeader(status)
		return writeList(w, l)
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return nil
}

// writeList streams a list response. encoding/json builds a whole value in
// one buffer before writing it, so a 5000-resource page encoded at once
// costs a fresh multi-megabyte buffer per request; encoding one resource at
// a time keeps the buffers small and reused.
func writeList(w io.Writer, l list) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	put := func(s string) { _, _ = bw.WriteString(s) }
	put(`{"pagination":`)
	if err := enc.Encode(l.Pagination); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	put(`,"resources":[`)
	rv := reflect.ValueOf(l.Resources)
	if rv.Kind() == reflect.Slice {
		for i := range rv.Len() {
			if i > 0 {
				put(",")
			}
			if err := enc.Encode(rv.Index(i).Interface()); err != nil {
				return fmt.Errorf("encode response: %w", err)
			}
		}
	}
	put("]")
	if l.Included != nil {
		put(`,"included":`)
		if err := enc.Encode(l.Included); err != nil {
			return fmt.Errorf("encode response: %w", err)
		}
	}
	put("}\n")
	return bw.Flush()
}

var unknownField = regexp.MustCompile(`json: unknown field "([^"]*)"`)

// decode reads a JSON body strictly: malformed JSON is a 400
// MessageParseError, an unknown field a 422, as CF answers.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apierr.RequestTooLarge()
		}
		return apierr.MessageParseError("could not read body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
			return apierr.Unprocessable(fmt.Sprintf("Unknown field(s): '%s'", m[1]))
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return apierr.Unprocessable(fmt.Sprintf("%s must be a %s", fieldName(te.Field), jsonKind(te.Type.Kind().String())))
		}
		return apierr.MessageParseError(err.Error())
	}
	if dec.More() {
		return apierr.MessageParseError("trailing data after the JSON object")
	}
	return nil
}

func fieldName(f string) string {
	if f == "" {
		return "Body"
	}
	parts := strings.Split(f, ".")
	p := parts[len(parts)-1]
	return strings.ToUpper(p[:1]) + p[1:]
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

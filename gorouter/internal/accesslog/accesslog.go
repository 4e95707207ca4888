// Package accesslog formats the gorouter's access log lines in Cloud
// Foundry's format and writes them to a file without holding up requests.
//
// A line looks like (one line, wrapped here):
//
//	myapp.apps.example.com - [2026-11-29T15:04:05.123456789Z] "GET /path HTTP/1.1" 200 0 13 "-" "curl/8.0"
//	"127.0.0.1:53412" "10.0.0.5:61001" x_forwarded_for:"127.0.0.1" x_forwarded_proto:"http"
//	vcap_request_id:"…" response_time:0.001234 gorouter_time:0.000210 app_id:"…" app_index:"0"
//	instance_id:"…" x_cf_routererror:"-"
//
// The same line is the message of the app's RTR log envelope. Values that
// come from the client are escaped (quotes, backslashes, control bytes), so
// a request cannot forge a line or a field.
package accesslog

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anvilpaas/anvil/gorouter/internal/proxy"
)

const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Append appends rec's access log line, without a newline, to b.
func Append(b []byte, rec *proxy.Record) []byte {
	r := rec.Request
	b = appendPlain(b, orDash(r.Host))
	b = append(b, " - ["...)
	b = rec.Start.UTC().AppendFormat(b, timeLayout)
	b = append(b, "] \""...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.RequestURI)
	b = append(b, ' ')
	b = appendEscaped(b, r.Proto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(rec.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, rec.BodyBytesReceived, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, rec.BodyBytesSent, 10)
	b = appendQuoted(b, " ", r.Referer())
	b = appendQuoted(b, " ", r.UserAgent())
	b = appendQuoted(b, " ", r.RemoteAddr)
	backend, appID, index, instance := "", "", "", ""
	if e := rec.Endpoint; e != nil {
		backend, appID, index, instance = e.Addr, e.AppID, e.PrivateInstanceIndex, e.PrivateInstanceID
	}
	b = appendQuoted(b, " ", backend)
	b = appendQuoted(b, " x_forwarded_for:", forwardedFor(r))
	b = appendQuoted(b, " x_forwarded_proto:", forwardedProto(r))
	b = appendQuoted(b, " vcap_request_id:", rec.RequestID)
	b = append(b, " response_time:"...)
	b = appendSeconds(b, rec.Duration)
	b = append(b, " gorouter_time:"...)
	b = appendSeconds(b, max(rec.Duration-rec.BackendTime, 0))
	b = appendQuoted(b, " app_id:", appID)
	b = appendQuoted(b, " app_index:", index)
	b = appendQuoted(b, " instance_id:", instance)
	b = appendQuoted(b, " x_cf_routererror:", rec.RouterError)
	return b
}

// forwardedFor is the X-Forwarded-For the backend saw: the client's chain
// plus the client address.
func forwardedFor(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = ""
	}
	prior := r.Header.Values("X-Forwarded-For")
	switch {
	case len(prior) == 0:
		return ip
	case ip == "":
		return strings.Join(prior, ", ")
	default:
		return strings.Join(prior, ", ") + ", " + ip
	}
}

func forwardedProto(r *http.Request) string {
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		return p
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendSeconds appends d in seconds with microsecond precision.
func appendSeconds(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, d.Seconds(), 'f', 6, 64)
}

// appendQuoted appends prefix and s in double quotes, escaped; "-" when s
// is empty.
func appendQuoted(b []byte, prefix, s string) []byte {
	b = append(b, prefix...)
	b = append(b, '"')
	b = appendEscaped(b, orDash(s))
	return append(b, '"')
}

// appendPlain appends an unquoted field: escaped, with spaces, quotes and
// backslashes as hex escapes so that the field stays one token outside
// any quotes.
func appendPlain(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '"', '\\':
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = appendEscaped(b, s[i:i+1])
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s with quotes, backslashes, control bytes and
// invalid UTF-8 escaped.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size > 1 {
				b = append(b, s[i:i+size]...)
				i += size
				continue
			}
		}
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
	}
	return b
}

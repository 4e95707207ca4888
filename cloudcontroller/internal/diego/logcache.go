package diego

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/web"
)

// gaugeWindow is how far back a stats read looks (reps emit every 15s).
const gaugeWindow = 2 * time.Minute

// logCacheRead is the part of log-cache's ReadResponse the sync reads.
type logCacheRead struct {
	Envelopes struct {
		Batch []struct {
			Timestamp  string `json:"timestamp"`
			InstanceID string `json:"instance_id"`
			Gauge      *struct {
				Metrics map[string]struct {
					Value float64 `json:"value"`
				} `json:"metrics"`
			} `json:"gauge"`
		} `json:"batch"`
	} `json:"envelopes"`
}

// readGauges returns the newest container gauges of each instance of app
// (by index) in one log-cache read. Each metric takes its newest value, so
// gauges sent in separate envelopes (log_rate) merge.
func (s *Syncer) readGauges(ctx context.Context, appGUID string) (map[int]web.InstanceUsage, error) {
	if s.deps.LogCacheURL == "" {
		return nil, nil
	}
	q := url.Values{
		"envelope_types": {"GAUGE"}, "descending": {"true"}, "limit": {"1000"},
		"start_time": {strconv.FormatInt(s.deps.Now().Add(-gaugeWindow).UnixNano(), 10)},
	}
	u := strings.TrimSuffix(s.deps.LogCacheURL, "/") + "/api/v1/read/" + url.PathEscape(appGUID) + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if s.deps.Tokens != nil {
		tok, err := s.deps.Tokens.AccessToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("log-cache token: %w", err)
		}
		req.Header.Set("Authorization", "bearer "+tok)
	}
	resp, err := s.deps.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil // nothing from this source yet
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("log-cache read: %s", resp.Status)
	}
	var body logCacheRead
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("log-cache read: %w", err)
	}
	type seen struct {
		usage web.InstanceUsage
		names map[string]bool
	}
	by := map[int]*seen{}
	for _, e := range body.Envelopes.Batch {
		if e.Gauge == nil {
			continue
		}
		idx, err := strconv.Atoi(e.InstanceID)
		if err != nil || idx < 0 {
			continue
		}
		cur := by[idx]
		if cur == nil {
			cur = &seen{names: map[string]bool{}}
			if ns, err := strconv.ParseInt(e.Timestamp, 10, 64); err == nil {
				cur.usage.Time = timeFromNanos(ns)
			}
			by[idx] = cur
		}
		for name, m := range e.Gauge.Metrics {
			if cur.names[name] {
				continue // a newer envelope had it
			}
			cur.names[name] = true
			switch name {
			case "cpu":
				cur.usage.CPU = m.Value / 100 // percent → fraction of a core, as CF reports usage.cpu
			case "cpu_entitlement":
				v := m.Value / 100
				cur.usage.CPUEntitlement = &v
			case "memory":
				cur.usage.MemBytes = nonNegative(m.Value)
			case "disk":
				cur.usage.DiskBytes = nonNegative(m.Value)
			case "log_rate":
				cur.usage.LogRate = nonNegative(m.Value)
			}
		}
	}
	out := make(map[int]web.InstanceUsage, len(by))
	for i, v := range by {
		out[i] = v.usage
	}
	return out, nil
}

func nonNegative(v float64) uint64 {
	if v <= 0 {
		return 0
	}
	return uint64(v)
}

func timeFromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

package web

import (
	"testing"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

func n64(v int64) *int64 { return &v }

// wantQuotaErr checks a hook's result: want "" is nil, otherwise a 422
// with that detail.
func wantQuotaErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("got %v, want nil", err)
		}
		return
	}
	e, ok := apierr.As(err)
	if !ok || e.Status != 422 || e.Detail != want {
		t.Errorf("got %v, want 422 %q", err, want)
	}
}

func TestAppQuotaError(t *testing.T) {
	t.Parallel()
	org := &store.Limits{TotalMemoryMB: n64(1024), PerProcessMemoryMB: n64(512), TotalInstances: n64(4), LogRateLimit: n64(1000)}
	space := &store.Limits{TotalMemoryMB: n64(256), PerProcessMemoryMB: n64(128), TotalInstances: n64(2)}
	both := store.QuotaScope{OrgName: "o", SpaceName: "s", Org: org, Space: space}
	onlyOrg := store.QuotaScope{OrgName: "o", SpaceName: "s", Org: org}
	tests := []struct {
		name string
		sc   store.QuotaScope
		req  appQuotaRequest
		want string
	}{
		{"no quotas", store.QuotaScope{}, appQuotaRequest{InstanceMemoryMB: 1 << 20, InstanceLogRate: -1, Added: quotaUsage{MemoryMB: 1 << 30, Instances: 1000}}, ""},
		{"within", onlyOrg, appQuotaRequest{InstanceMemoryMB: 256, InstanceLogRate: 100, Added: quotaUsage{MemoryMB: 512, Instances: 2, LogRate: 200}}, ""},
		{"exactly at the limit", onlyOrg, appQuotaRequest{InstanceMemoryMB: 512, InstanceLogRate: 250, Added: quotaUsage{MemoryMB: 1024, Instances: 4, LogRate: 1000}}, ""},
		{"org memory", onlyOrg, appQuotaRequest{InstanceMemoryMB: 256, Added: quotaUsage{MemoryMB: 256, Instances: 1}, OrgUsed: quotaUsage{MemoryMB: 800}}, "memory quota_exceeded"},
		{"space memory", both, appQuotaRequest{InstanceMemoryMB: 128, Added: quotaUsage{MemoryMB: 128, Instances: 1}, SpaceUsed: quotaUsage{MemoryMB: 200}}, "memory space_quota_exceeded"},
		{"both memories", both, appQuotaRequest{InstanceMemoryMB: 128, Added: quotaUsage{MemoryMB: 1100, Instances: 1}}, "memory space_quota_exceeded, memory quota_exceeded"},
		{"instance memory", both, appQuotaRequest{InstanceMemoryMB: 600, Added: quotaUsage{Instances: 0}},
			"memory instance_memory_limit_exceeded, memory space_instance_memory_limit_exceeded"},
		{"space instance memory", both, appQuotaRequest{InstanceMemoryMB: 200}, "memory space_instance_memory_limit_exceeded"},
		{"org instances", onlyOrg, appQuotaRequest{InstanceMemoryMB: 1, Added: quotaUsage{MemoryMB: 1, Instances: 2}, OrgUsed: quotaUsage{Instances: 3}},
			"app_instance_limit app_instance_limit_exceeded"},
		{"space instances", both, appQuotaRequest{InstanceMemoryMB: 1, Added: quotaUsage{MemoryMB: 3, Instances: 3}},
			"app_instance_limit space_app_instance_limit_exceeded"},
		{"memory and instances", both, appQuotaRequest{InstanceMemoryMB: 100, Added: quotaUsage{MemoryMB: 300, Instances: 3}},
			"memory space_quota_exceeded, app_instance_limit space_app_instance_limit_exceeded"},
		{"scaling down is never refused", onlyOrg, appQuotaRequest{InstanceMemoryMB: 256, Added: quotaUsage{MemoryMB: -256, Instances: -1}, OrgUsed: quotaUsage{MemoryMB: 5000, Instances: 10}}, ""},
		{"unlimited log rate", onlyOrg, appQuotaRequest{InstanceMemoryMB: 1, InstanceLogRate: -1}, "log_rate_limit cannot be unlimited in organization 'o'."},
		{"log rate", onlyOrg, appQuotaRequest{InstanceMemoryMB: 1, InstanceLogRate: 600, Added: quotaUsage{LogRate: 600}, OrgUsed: quotaUsage{LogRate: 500}},
			"log_rate_limit exceeds organization log rate quota"},
		{"space log rate first", store.QuotaScope{OrgName: "o", SpaceName: "s", Org: org, Space: &store.Limits{LogRateLimit: n64(10)}},
			appQuotaRequest{InstanceLogRate: 20, Added: quotaUsage{LogRate: 2000}},
			"log_rate_limit exceeds space log rate quota, log_rate_limit exceeds organization log rate quota"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantQuotaErr(t, appQuotaError(tt.sc, tt.req), tt.want)
		})
	}
}

func TestTaskQuotaError(t *testing.T) {
	t.Parallel()
	org := &store.Limits{TotalMemoryMB: n64(1024), PerProcessMemoryMB: n64(512), PerAppTasks: n64(2)}
	space := &store.Limits{TotalMemoryMB: n64(256), PerAppTasks: n64(1), LogRateLimit: n64(100)}
	sc := store.QuotaScope{OrgName: "o", SpaceName: "s", Org: org, Space: space}
	tests := []struct {
		name string
		req  taskQuotaRequest
		want string
	}{
		{"within", taskQuotaRequest{MemoryMB: 128, LogRate: 50}, ""},
		{"org memory", taskQuotaRequest{MemoryMB: 128, LogRate: 1, OrgUsed: quotaUsage{MemoryMB: 1000}}, "memory_in_mb exceeds organization memory quota"},
		{"space memory", taskQuotaRequest{MemoryMB: 128, LogRate: 1, SpaceUsed: quotaUsage{MemoryMB: 200}}, "memory_in_mb exceeds space memory quota"},
		{"instance memory", taskQuotaRequest{MemoryMB: 600, LogRate: 1},
			"memory_in_mb exceeds organization instance memory quota, memory_in_mb exceeds space memory quota"},
		{"tasks", taskQuotaRequest{MemoryMB: 1, LogRate: 1, OrgUsed: quotaUsage{Tasks: 2}, SpaceUsed: quotaUsage{Tasks: 1}}, "app_task_limit quota exceeded"},
		{"unlimited log rate in a limited space", taskQuotaRequest{MemoryMB: 1, LogRate: -1}, "log_rate_limit cannot be unlimited in space 's'."},
		{"space log rate", taskQuotaRequest{MemoryMB: 1, LogRate: 60, SpaceUsed: quotaUsage{LogRate: 50}}, "log_rate_limit exceeds space log rate quota"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantQuotaErr(t, taskQuotaError(sc, tt.req), tt.want)
		})
	}
	wantQuotaErr(t, taskQuotaError(store.QuotaScope{}, taskQuotaRequest{MemoryMB: 1 << 30, LogRate: -1, OrgUsed: quotaUsage{Tasks: 1 << 20}}), "")
}

func TestRouteQuotaError(t *testing.T) {
	t.Parallel()
	org := &store.Limits{TotalRoutes: n64(10), TotalReservedPorts: n64(2)}
	space := &store.Limits{TotalRoutes: n64(3), TotalReservedPorts: n64(1)}
	sc := store.QuotaScope{OrgName: "o", SpaceName: "s", Org: org, Space: space}
	tests := []struct {
		name string
		sc   store.QuotaScope
		req  routeQuotaRequest
		want string
	}{
		{"within", sc, routeQuotaRequest{SpaceRoutes: 2, OrgRoutes: 9, ReservesPort: true, SpaceReservedPorts: 0, OrgReservedPorts: 1}, ""},
		{"space routes", sc, routeQuotaRequest{SpaceRoutes: 3, OrgRoutes: 10}, "Routes quota exceeded for space 's'."},
		{"space ports", sc, routeQuotaRequest{ReservesPort: true, SpaceReservedPorts: 1, OrgRoutes: 10}, "Reserved route ports quota exceeded for space 's'."},
		{"ports only count for TCP routes", sc, routeQuotaRequest{SpaceReservedPorts: 1, OrgReservedPorts: 2}, ""},
		{"org routes", store.QuotaScope{OrgName: "o", Org: org}, routeQuotaRequest{OrgRoutes: 10}, "Routes quota exceeded for organization 'o'."},
		{"org ports", store.QuotaScope{OrgName: "o", Org: org}, routeQuotaRequest{ReservesPort: true, OrgReservedPorts: 2}, "Reserved route ports quota exceeded for organization 'o'."},
		{"unlimited", store.QuotaScope{Org: &store.Limits{}}, routeQuotaRequest{OrgRoutes: 1 << 40, ReservesPort: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantQuotaErr(t, routeQuotaError(tt.sc, tt.req), tt.want)
		})
	}
}

func TestDomainQuotaError(t *testing.T) {
	t.Parallel()
	sc := store.QuotaScope{OrgName: "o", Org: &store.Limits{TotalDomains: n64(1)}}
	wantQuotaErr(t, domainQuotaError(sc, 0), "")
	wantQuotaErr(t, domainQuotaError(sc, 1), `The number of private domains exceeds the quota for organization "o"`)
	wantQuotaErr(t, domainQuotaError(store.QuotaScope{OrgName: "o"}, 100), "")
}

package web

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Quota enforcement hooks, for the handlers that consume quota: processes
// (start, scale), tasks, routes and private domains.
//
// The caller owns the usage numbers (it knows its own tables) and passes
// them in; a hook looks up the organization quota and the space quota that
// apply and returns nil, or CF's 422 with CF's exact detail text, which
// scripts match. A nil limit is unlimited. Call the hook inside the
// transaction that makes the change if concurrent changes must not
// overshoot.

// quotaUsage is what an organization or a space uses now.
type quotaUsage struct {
	// MemoryMB is memory × instances of started processes (for tasks, plus
	// the memory of running tasks).
	MemoryMB int64
	// Instances is the instance count of started processes.
	Instances int64
	// LogRate is log rate limit × instances, in bytes per second.
	LogRate int64
	// Tasks is the number of running or pending tasks.
	Tasks int64
}

// appQuotaRequest is a process about to be started or scaled.
type appQuotaRequest struct {
	SpaceGUID string
	// InstanceMemoryMB is each instance's memory after the change.
	InstanceMemoryMB int64
	// InstanceLogRate is each instance's log rate limit after the change,
	// in bytes per second; -1 is unlimited.
	InstanceLogRate int64
	// Added is what the change adds to the started usage: memory ×
	// instances for a start; the difference for a scale of a started
	// process (zero or negative when scaling down, which is never refused).
	Added quotaUsage
	// OrgUsed and SpaceUsed are the usage before the change.
	OrgUsed, SpaceUsed quotaUsage
}

// checkAppQuota checks starting or scaling a process against the quotas of
// its space and organization. The detail lists every problem, e.g.
// "memory quota_exceeded" or "memory space_quota_exceeded,
// app_instance_limit app_instance_limit_exceeded".
func (s *Server) checkAppQuota(ctx context.Context, req appQuotaRequest) error {
	sc, err := s.spaceQuotaScope(ctx, req.SpaceGUID)
	if err != nil {
		return err
	}
	return appQuotaError(sc, req)
}

// appQuotaError is checkAppQuota's decision, in CF's order (ProcessModel
// validation policies).
func appQuotaError(sc store.QuotaScope, req appQuotaRequest) error {
	var p quotaProblems
	if req.Added.MemoryMB > 0 {
		if over(sc.Space, limitTotalMemory, req.SpaceUsed.MemoryMB+req.Added.MemoryMB) {
			p.add("memory", "space_quota_exceeded")
		}
		if over(sc.Org, limitTotalMemory, req.OrgUsed.MemoryMB+req.Added.MemoryMB) {
			p.add("memory", "quota_exceeded")
		}
	}
	if over(sc.Org, limitInstanceMemory, req.InstanceMemoryMB) {
		p.add("memory", "instance_memory_limit_exceeded")
	}
	if over(sc.Space, limitInstanceMemory, req.InstanceMemoryMB) {
		p.add("memory", "space_instance_memory_limit_exceeded")
	}
	if req.Added.Instances > 0 {
		if over(sc.Org, limitInstances, req.OrgUsed.Instances+req.Added.Instances) {
			p.add("app_instance_limit", "app_instance_limit_exceeded")
		}
		if over(sc.Space, limitInstances, req.SpaceUsed.Instances+req.Added.Instances) {
			p.add("app_instance_limit", "space_app_instance_limit_exceeded")
		}
	}
	grows := req.Added.LogRate > 0
	logRateProblem(&p, "space", sc.SpaceName, sc.Space, req.InstanceLogRate, req.SpaceUsed.LogRate+req.Added.LogRate, grows)
	logRateProblem(&p, "organization", sc.OrgName, sc.Org, req.InstanceLogRate, req.OrgUsed.LogRate+req.Added.LogRate, grows)
	return p.err()
}

// taskQuotaRequest is a task about to be created.
type taskQuotaRequest struct {
	SpaceGUID string
	MemoryMB  int64
	// LogRate is the task's log rate limit in bytes per second; -1 is
	// unlimited.
	LogRate int64
	// OrgUsed and SpaceUsed are the usage before the task: started
	// processes plus running tasks, and the running or pending task count.
	OrgUsed, SpaceUsed quotaUsage
}

// checkTaskQuota checks creating a task, e.g. "memory_in_mb exceeds
// organization memory quota" or "app_task_limit quota exceeded".
func (s *Server) checkTaskQuota(ctx context.Context, req taskQuotaRequest) error {
	sc, err := s.spaceQuotaScope(ctx, req.SpaceGUID)
	if err != nil {
		return err
	}
	return taskQuotaError(sc, req)
}

// taskQuotaError is checkTaskQuota's decision, in CF's order (TaskModel:
// organization, then space).
func taskQuotaError(sc store.QuotaScope, req taskQuotaRequest) error {
	var p quotaProblems
	for _, scope := range []struct {
		kind, name string
		limits     *store.Limits
		used       quotaUsage
	}{{"organization", sc.OrgName, sc.Org, req.OrgUsed}, {"space", sc.SpaceName, sc.Space, req.SpaceUsed}} {
		if req.MemoryMB > 0 && over(scope.limits, limitTotalMemory, scope.used.MemoryMB+req.MemoryMB) {
			p.add("memory_in_mb", "exceeds "+scope.kind+" memory quota")
		}
		if over(scope.limits, limitInstanceMemory, req.MemoryMB) {
			p.add("memory_in_mb", "exceeds "+scope.kind+" instance memory quota")
		}
		logRateProblem(&p, scope.kind, scope.name, scope.limits, req.LogRate, scope.used.LogRate+max(req.LogRate, 0), true)
		if over(scope.limits, limitTasks, scope.used.Tasks+1) {
			p.add("app_task_limit", "quota exceeded")
		}
	}
	return p.err()
}

// logRateProblem adds the log rate check of one scope (kind "space" or
// "organization"): an unlimited instance (-1) where the scope limits log
// rate, or, if checkTotal, a total over the limit.
func logRateProblem(p *quotaProblems, kind, name string, l *store.Limits, instance, total int64, checkTotal bool) {
	if l == nil || l.LogRateLimit == nil {
		return
	}
	switch {
	case instance < 0:
		p.add("log_rate_limit", fmt.Sprintf("cannot be unlimited in %s '%s'.", kind, name))
	case checkTotal && total > *l.LogRateLimit:
		p.add("log_rate_limit", "exceeds "+kind+" log rate quota")
	}
}

// routeQuotaRequest is a route about to be created.
type routeQuotaRequest struct {
	SpaceGUID string
	// ReservesPort is true for a TCP route with a port.
	ReservesPort bool
	// Routes and reserved ports that exist now.
	OrgRoutes, SpaceRoutes               int64
	OrgReservedPorts, SpaceReservedPorts int64
}

// checkRouteQuota checks creating a route, e.g. "Routes quota exceeded for
// organization 'o'.".
func (s *Server) checkRouteQuota(ctx context.Context, req routeQuotaRequest) error {
	sc, err := s.spaceQuotaScope(ctx, req.SpaceGUID)
	if err != nil {
		return err
	}
	return routeQuotaError(sc, req)
}

// routeQuotaError is checkRouteQuota's decision: the first problem in CF's
// order (RouteCreate).
func routeQuotaError(sc store.QuotaScope, req routeQuotaRequest) error {
	switch {
	case over(sc.Space, limitRoutes, req.SpaceRoutes+1):
		return apierr.Unprocessable(fmt.Sprintf("Routes quota exceeded for space '%s'.", sc.SpaceName))
	case req.ReservesPort && over(sc.Space, limitReservedPorts, req.SpaceReservedPorts+1):
		return apierr.Unprocessable(fmt.Sprintf("Reserved route ports quota exceeded for space '%s'.", sc.SpaceName))
	case over(sc.Org, limitRoutes, req.OrgRoutes+1):
		return apierr.Unprocessable(fmt.Sprintf("Routes quota exceeded for organization '%s'.", sc.OrgName))
	case req.ReservesPort && over(sc.Org, limitReservedPorts, req.OrgReservedPorts+1):
		return apierr.Unprocessable(fmt.Sprintf("Reserved route ports quota exceeded for organization '%s'.", sc.OrgName))
	}
	return nil
}

// checkDomainQuota checks creating a private domain owned by orgGUID, which
// owns privateDomains now.
func (s *Server) checkDomainQuota(ctx context.Context, orgGUID string, privateDomains int64) error {
	sc, err := s.store.OrgQuotaScope(ctx, orgGUID)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Organization")
	}
	if err != nil {
		return err
	}
	return domainQuotaError(sc, privateDomains)
}

func domainQuotaError(sc store.QuotaScope, privateDomains int64) error {
	if over(sc.Org, limitDomains, privateDomains+1) {
		return apierr.Unprocessable(fmt.Sprintf("The number of private domains exceeds the quota for organization \"%s\"", sc.OrgName))
	}
	return nil
}

func (s *Server) spaceQuotaScope(ctx context.Context, spaceGUID string) (store.QuotaScope, error) {
	sc, err := s.store.SpaceQuotaScope(ctx, spaceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return sc, apierr.NotFound("Space")
	}
	return sc, err
}

// Limit selectors for over.
var (
	limitTotalMemory    = func(l *store.Limits) *int64 { return l.TotalMemoryMB }
	limitInstanceMemory = func(l *store.Limits) *int64 { return l.PerProcessMemoryMB }
	limitInstances      = func(l *store.Limits) *int64 { return l.TotalInstances }
	limitTasks          = func(l *store.Limits) *int64 { return l.PerAppTasks }
	limitRoutes         = func(l *store.Limits) *int64 { return l.TotalRoutes }
	limitReservedPorts  = func(l *store.Limits) *int64 { return l.TotalReservedPorts }
	limitDomains        = func(l *store.Limits) *int64 { return l.TotalDomains }
)

// over reports whether value exceeds the selected limit of l; no quota or
// no limit is never exceeded.
func over(l *store.Limits, sel func(*store.Limits) *int64, value int64) bool {
	if l == nil {
		return false
	}
	limit := sel(l)
	return limit != nil && value > *limit
}

// quotaProblems collects validation messages as Sequel reports them:
// grouped by attribute in first-seen order, "attribute message" each,
// joined with ", ".
type quotaProblems struct {
	attrs []string
	msgs  map[string][]string
}

func (p *quotaProblems) add(attr, msg string) {
	if p.msgs == nil {
		p.msgs = map[string][]string{}
	}
	if _, ok := p.msgs[attr]; !ok {
		p.attrs = append(p.attrs, attr)
	}
	for _, m := range p.msgs[attr] {
		if m == msg {
			return
		}
	}
	p.msgs[attr] = append(p.msgs[attr], msg)
}

func (p *quotaProblems) err() error {
	if len(p.attrs) == 0 {
		return nil
	}
	var full []string
	for _, a := range p.attrs {
		for _, m := range p.msgs[a] {
			full = append(full, a+" "+m)
		}
	}
	return apierr.Unprocessable(strings.Join(full, ", "))
}

package models

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// Limits on what a desired LRP or task may ask for.
const (
	MaxInstances   = 2000
	MaxGUIDLength  = 255
	MaxRoutesBytes = 128 << 10
	MaxAnnotation  = 10 << 10
	MaxEnvVars     = 1000
	MaxResultBytes = 10 << 10
)

var guidPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ValidateGUID checks a process or task guid.
func ValidateGUID(field, guid string) error {
	switch {
	case guid == "":
		return fmt.Errorf("%s is required", field)
	case len(guid) > MaxGUIDLength:
		return fmt.Errorf("%s is longer than %d characters", field, MaxGUIDLength)
	case !guidPattern.MatchString(guid):
		return fmt.Errorf("%s %q may only contain letters, digits, '_', '.' and '-'", field, guid)
	}
	return nil
}

// ValidateDesiredLRP checks a new desired LRP and reports every problem.
func ValidateDesiredLRP(d *bbsv1.DesiredLRP) error {
	if d == nil {
		return errors.New("desired_lrp is required")
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(ValidateGUID("process_guid", d.GetProcessGuid()))
	if d.GetDomain() == "" {
		add(errors.New("domain is required"))
	}
	add(validateInstances(d.GetInstances()))
	add(validateRootFS(d.GetRootFs()))
	add(validateResources(d.GetMemoryMb(), d.GetDiskMb(), d.GetMaxPids()))
	if w := d.GetCpuWeight(); w > 100 {
		add(fmt.Errorf("cpu_weight %d is above 100", w))
	}
	for _, p := range d.GetPorts() {
		if p == 0 || p > 65535 {
			add(fmt.Errorf("port %d is out of range", p))
		}
	}
	add(validateRoutes(d.GetRoutes()))
	if len(d.GetAnnotation()) > MaxAnnotation {
		add(fmt.Errorf("annotation is longer than %d bytes", MaxAnnotation))
	}
	if d.GetAction() == nil || d.GetAction().GetPath() == "" {
		add(errors.New("action with a path is required"))
	}
	add(validateEnv(d.GetEnv()))
	add(validateDownloads(d.GetSetup()))
	if hc := d.GetHealthCheck(); hc != nil {
		if hc.GetCheck() != nil && hc.GetCheck().GetType() == bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_UNSPECIFIED {
			add(errors.New("health_check.check.type is required"))
		}
	}
	if d.GetPrivileged() {
		add(errors.New("privileged containers are not supported"))
	}
	return errors.Join(errs...)
}

// ValidateDesiredLRPUpdate checks an update.
func ValidateDesiredLRPUpdate(u *bbsv1.DesiredLRPUpdate) error {
	if u == nil {
		return errors.New("update is required")
	}
	var errs []error
	if u.Instances != nil {
		if err := validateInstances(u.GetInstances()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := validateRoutes(u.GetRoutes()); err != nil {
		errs = append(errs, err)
	}
	if len(u.GetAnnotation()) > MaxAnnotation {
		errs = append(errs, fmt.Errorf("annotation is longer than %d bytes", MaxAnnotation))
	}
	return errors.Join(errs...)
}

// ValidateTask checks a new task and reports every problem.
func ValidateTask(guid, domain string, def *bbsv1.TaskDefinition) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(ValidateGUID("task_guid", guid))
	if domain == "" {
		add(errors.New("domain is required"))
	}
	if def == nil {
		return errors.Join(append(errs, errors.New("definition is required"))...)
	}
	add(validateRootFS(def.GetRootFs()))
	add(validateResources(def.GetMemoryMb(), def.GetDiskMb(), def.GetMaxPids()))
	if def.GetAction() == nil || def.GetAction().GetPath() == "" {
		add(errors.New("action with a path is required"))
	}
	add(validateEnv(def.GetEnv()))
	add(validateDownloads(def.GetSetup()))
	for i, u := range def.GetUploads() {
		if u.GetFrom() == "" || u.GetTo() == "" {
			add(fmt.Errorf("uploads[%d] needs from and to", i))
		}
	}
	if cb := def.GetCompletionCallbackUrl(); cb != "" && !strings.HasPrefix(cb, "http://") && !strings.HasPrefix(cb, "https://") {
		add(fmt.Errorf("completion_callback_url %q is not an http(s) URL", cb))
	}
	if def.GetPrivileged() {
		add(errors.New("privileged containers are not supported"))
	}
	return errors.Join(errs...)
}

func validateInstances(n int32) error {
	if n < 0 || n > MaxInstances {
		return fmt.Errorf("instances %d must be between 0 and %d", n, MaxInstances)
	}
	return nil
}

func validateRootFS(rootfs string) error {
	switch {
	case rootfs == "":
		return errors.New("root_fs is required")
	case strings.HasPrefix(rootfs, "preloaded:") && len(rootfs) > len("preloaded:"):
		return nil
	case strings.HasPrefix(rootfs, "docker://"):
		return nil
	}
	return fmt.Errorf("root_fs %q must be preloaded:<stack> or docker://<image>", rootfs)
}

func validateResources(memory, disk, pids int32) error {
	var errs []error
	if memory < 0 {
		errs = append(errs, fmt.Errorf("memory_mb %d is negative", memory))
	}
	if disk < 0 {
		errs = append(errs, fmt.Errorf("disk_mb %d is negative", disk))
	}
	if pids < 0 {
		errs = append(errs, fmt.Errorf("max_pids %d is negative", pids))
	}
	return errors.Join(errs...)
}

func validateRoutes(routes map[string][]byte) error {
	total := 0
	for k, v := range routes {
		total += len(k) + len(v)
	}
	if total > MaxRoutesBytes {
		return fmt.Errorf("routes are larger than %d bytes", MaxRoutesBytes)
	}
	return nil
}

func validateEnv(env []*bbsv1.EnvironmentVariable) error {
	if len(env) > MaxEnvVars {
		return fmt.Errorf("more than %d environment variables", MaxEnvVars)
	}
	for _, e := range env {
		if e.GetName() == "" || strings.ContainsAny(e.GetName(), "=\x00") {
			return fmt.Errorf("environment variable name %q is invalid", e.GetName())
		}
	}
	return nil
}

func validateDownloads(ds []*bbsv1.DownloadAction) error {
	for i, d := range ds {
		if d.GetFrom() == "" || d.GetTo() == "" {
			return fmt.Errorf("setup[%d] needs from and to", i)
		}
		switch d.GetChecksumAlgorithm() {
		case "", "sha256", "sha1":
		default:
			return fmt.Errorf("setup[%d] checksum_algorithm %q is not sha256 or sha1", i, d.GetChecksumAlgorithm())
		}
	}
	return nil
}

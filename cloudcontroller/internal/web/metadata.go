package web

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// metadataPatch is the metadata of a create or update body: a key set to
// null is deleted, others are set (PATCH merges).
type metadataPatch struct {
	Labels      map[string]*string `json:"labels"`
	Annotations map[string]*string `json:"annotations"`
}

var (
	labelName   = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValue  = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
	prefixLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// validKey checks a label or annotation key: [prefix/]name, with a DNS
// prefix of at most 253 characters and a name of at most 63.
func validKey(k string) error {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = k, ""
	}
	if hasPrefix && (prefix == "" || len(prefix) > 253 || !prefixLabel.MatchString(prefix)) {
		return fmt.Errorf("prefix error")
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("key cannot have more than one '/'")
	}
	if len(name) == 0 || len(name) > 63 {
		return fmt.Errorf("key length must be between 1 and 63 characters")
	}
	if !labelName.MatchString(name) {
		return fmt.Errorf("key must begin and end with an alphanumeric character and contain only alphanumerics, '-', '_' or '.'")
	}
	if strings.HasPrefix(prefix, "cloudfoundry.org") {
		return fmt.Errorf("Cloudfoundry.org is a reserved domain")
	}
	return nil
}

// apply validates p and merges it into m.
func (p *metadataPatch) apply(m *store.Metadata) error {
	if p == nil {
		return nil
	}
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	for k, v := range p.Labels {
		if err := validKey(k); err != nil {
			return apierr.Unprocessable(fmt.Sprintf("Metadata label key error: '%s' %s", k, err))
		}
		if v == nil {
			delete(m.Labels, k)
			continue
		}
		if len(*v) > 63 || !labelValue.MatchString(*v) {
			return apierr.Unprocessable(fmt.Sprintf("Metadata label value error: '%s' must be at most 63 characters, begin and end with an alphanumeric character and contain only alphanumerics, '-', '_' or '.'", *v))
		}
		m.Labels[k] = *v
	}
	for k, v := range p.Annotations {
		if err := validKey(k); err != nil {
			return apierr.Unprocessable(fmt.Sprintf("Metadata annotations key error: '%s' %s", k, err))
		}
		if v == nil {
			delete(m.Annotations, k)
			continue
		}
		if len(*v) > 5000 {
			return apierr.Unprocessable(fmt.Sprintf("Metadata annotations value error: '%s' is greater than 5000 characters", k))
		}
		m.Annotations[k] = *v
	}
	if len(m.Labels) > 1000 || len(m.Annotations) > 1000 {
		return apierr.Unprocessable("Metadata has too many keys (at most 1000 labels and 1000 annotations)")
	}
	return nil
}

func toMetadata(m store.Metadata) Metadata {
	l, a := m.Labels, m.Annotations
	if l == nil {
		l = map[string]string{}
	}
	if a == nil {
		a = map[string]string{}
	}
	return Metadata{Labels: l, Annotations: a}
}

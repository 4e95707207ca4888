package containerd

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// The runtime's own container labels. They carry what a restarted rep
// needs to find a container's network again; List strips them.
const (
	labelPrefix  = "anvil.rep/"
	labelManaged = labelPrefix + "managed" // "1" on every container of the runtime
	labelStack   = labelPrefix + "stack"
	labelHostIP  = labelPrefix + "host-ip"
	labelIP      = labelPrefix + "ip"
	labelNetNS   = labelPrefix + "netns"
	labelPorts   = labelPrefix + "ports"  // "8080:61001,9090:61002"
	labelMemory  = labelPrefix + "memory" // the memory limit in bytes
)

// containerLabels returns the labels to store with a new container.
func containerLabels(spec runtime.ContainerSpec, hostIP string, rec netRecord) (map[string]string, error) {
	labels := make(map[string]string, len(spec.Labels)+7)
	for k, v := range spec.Labels {
		if strings.HasPrefix(k, labelPrefix) {
			return nil, fmt.Errorf("label %q: the prefix %s is reserved for the runtime", k, labelPrefix)
		}
		labels[k] = v
	}
	labels[labelManaged] = "1"
	labels[labelStack] = spec.Stack
	labels[labelHostIP] = hostIP
	labels[labelIP] = rec.IP
	if rec.NetNS != "" {
		labels[labelNetNS] = rec.NetNS
	}
	if len(rec.Ports) > 0 {
		labels[labelPorts] = formatPorts(rec.Ports)
	}
	if spec.MemoryBytes > 0 {
		labels[labelMemory] = strconv.FormatInt(spec.MemoryBytes, 10)
	}
	return labels, nil
}

// containerFromLabels rebuilds a Container from its stored labels.
func containerFromLabels(id string, labels map[string]string) *runtime.Container {
	c := &runtime.Container{
		ID:     id,
		Labels: map[string]string{},
		HostIP: labels[labelHostIP],
		IP:     labels[labelIP],
		Ports:  parsePorts(labels[labelPorts]),
	}
	for k, v := range labels {
		if !strings.HasPrefix(k, labelPrefix) {
			c.Labels[k] = v
		}
	}
	return c
}

// recordFromLabels is the network record stored in a container's labels.
func recordFromLabels(id string, labels map[string]string) netRecord {
	return netRecord{
		ID:    id,
		NetNS: labels[labelNetNS],
		IP:    labels[labelIP],
		Ports: parsePorts(labels[labelPorts]),
	}
}

func formatPorts(ports []runtime.PortMapping) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%d:%d", p.ContainerPort, p.HostPort)
	}
	return strings.Join(parts, ",")
}

// parsePorts parses formatPorts' output, skipping malformed entries.
func parsePorts(s string) []runtime.PortMapping {
	if s == "" {
		return nil
	}
	var ports []runtime.PortMapping
	for part := range strings.SplitSeq(s, ",") {
		c, h, ok := strings.Cut(part, ":")
		cp, err1 := strconv.ParseUint(c, 10, 16)
		hp, err2 := strconv.ParseUint(h, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		ports = append(ports, runtime.PortMapping{ContainerPort: uint32(cp), HostPort: uint32(hp)})
	}
	return ports
}

// cloneLabels copies labels (nil stays nil).
func cloneLabels(l map[string]string) map[string]string {
	if l == nil {
		return nil
	}
	return maps.Clone(l)
}

// Package procfile parses an app's Procfile: a YAML mapping from process
// type to start command, as Cloud Foundry reads it.
package procfile

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is returned for a Procfile that is not a mapping of process
// types to commands.
var ErrInvalid = errors.New("invalid YAML")

// Parse returns the process types of a Procfile. Entries with an empty
// command are dropped, as they could not start anything. An empty file
// yields an empty map.
func Parse(data []byte) (map[string]string, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		return nil, fmt.Errorf("procfile: %w", ErrInvalid)
	}
	out := map[string]string{}
	if node.Kind == 0 || len(node.Content) == 0 {
		return out, nil
	}
	doc := node.Content[0]
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return out, nil
	}
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("procfile: %w: not a mapping of process types to commands", ErrInvalid)
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("procfile: %w: line %d is not \"type: command\"", ErrInvalid, k.Line)
		}
		name := strings.TrimSpace(k.Value)
		if name == "" {
			return nil, fmt.Errorf("procfile: %w: empty process type on line %d", ErrInvalid, k.Line)
		}
		if v.Tag == "!!null" || strings.TrimSpace(v.Value) == "" {
			continue
		}
		out[name] = v.Value
	}
	return out, nil
}

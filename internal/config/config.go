// Package config loads a daemon's YAML configuration file.
//
// Every Anvil daemon reads exactly one YAML file (rendered by BOSH or by
// `anvil dev up`) given with -config. Loading follows one flow:
//
//	Load (strict YAML: unknown keys are errors) → Defaults() → Validate()
//
// Validate reports every problem at once, joined with errors.Join, so an
// operator fixes a broken file in one pass instead of one error per restart.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the size of a configuration file.
const MaxFileSize = 4 << 20

// Validatable is a daemon configuration: it fills its own defaults and
// checks itself.
type Validatable interface {
	// Defaults fills every unset field with its default value.
	Defaults()
	// Validate returns all problems found, joined, or nil.
	Validate() error
}

// Load reads the YAML file at path into cfg, applies defaults and validates.
func Load(path string, cfg Validatable) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("load config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return fmt.Errorf("load config %s: file larger than %d bytes", path, MaxFileSize)
	}
	if err := Parse(data, cfg); err != nil {
		return fmt.Errorf("load config %s: %w", path, err)
	}
	return nil
}

// Parse decodes YAML data into cfg strictly, applies defaults and validates.
func Parse(data []byte, cfg Validatable) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse yaml: %w", err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	return nil
}

// Problems collects validation problems. The zero value is ready to use.
type Problems struct {
	errs []error
}

// Addf records a problem.
func (p *Problems) Addf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

// Add records err if it is not nil, prefixed with field.
func (p *Problems) Add(field string, err error) {
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %w", field, err))
	}
}

// Require records a problem when value is empty.
func (p *Problems) Require(field, value string) {
	if value == "" {
		p.Addf("%s is required", field)
	}
}

// Err returns all recorded problems joined, or nil.
func (p *Problems) Err() error {
	return errors.Join(p.errs...)
}

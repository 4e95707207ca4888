package callbacks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/bbs/internal/callbacks"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	var c callbacks.Config
	c.Defaults()
	want := callbacks.Config{Workers: 100, QueueSize: 1000, HTTPTimeout: 10 * time.Second, Retries: 2, RetryBackoff: 500 * time.Millisecond}
	if c != want {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}

	bad := callbacks.Config{Workers: -1, QueueSize: -1, HTTPTimeout: -time.Second, Retries: -1, RetryBackoff: -time.Second}
	bad.Defaults()
	err := bad.Validate()
	for _, field := range []string{"workers", "queue_size", "http_timeout", "retry_backoff"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want a problem with %s", err, field)
		}
	}
	if err != nil && strings.Contains(err.Error(), "retries") {
		t.Errorf("negative retries (none) reported: %v", err)
	}
}

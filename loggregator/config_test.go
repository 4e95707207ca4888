package loggregator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/loggregator"
)

const exampleConfig = `
ingress:
  listen: 127.0.0.1:8082
  cert_file: /var/vcap/jobs/loggregator/config/certs/loggregator.crt
  key_file: /var/vcap/jobs/loggregator/config/certs/loggregator.key
  ca_file: /var/vcap/jobs/loggregator/config/certs/ca.crt
api:
  listen: 127.0.0.1:8083
ops:
  listen: 127.0.0.1:9183
logging:
  level: info
verifier:
  uaa_url: http://127.0.0.1:8081
cloud_controller:
  url: http://127.0.0.1:9022
  auth_cache_ttl: 30s
store:
  max_per_source: 100000
  max_envelopes: 2000000
  max_bytes: 1073741824
`

func TestConfigExample(t *testing.T) {
	t.Parallel()
	var c loggregator.Config
	if err := config.Parse([]byte(exampleConfig), &c); err != nil {
		t.Fatal(err)
	}
	if c.Verifier.Issuer != "http://127.0.0.1:8081/oauth/token" || c.CloudController.AuthCacheTTL != 30*time.Second ||
		c.Store.MaxPerSource != 100_000 || c.CloudController.Timeout != 5*time.Second || c.API.ShutdownTimeout != 5*time.Second {
		t.Errorf("config %+v", c)
	}
}

func TestConfigProblems(t *testing.T) {
	t.Parallel()
	bad := `
ingress: {listen: "nope"}
api: {listen: "x", cert_file: a}
cloud_controller: {url: "ftp://cc"}
store: {max_per_source: 10, max_envelopes: 5}
`
	var c loggregator.Config
	err := config.Parse([]byte(bad), &c)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"ingress", "cert_file", "key_file", "api.listen", "cloud_controller.url", "max_envelopes", "verifier"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err := config.Parse([]byte("bogus: 1\n"), &c); err == nil {
		t.Error("unknown key accepted")
	}
}

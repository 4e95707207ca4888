package launcher

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Endpoints is DIR/endpoints.json: everything a user or a test needs to use
// the running platform.
type Endpoints struct {
	API               string `json:"api"`
	UAA               string `json:"uaa"`
	Login             string `json:"login"`
	LogCache          string `json:"log_cache"`
	RouterHTTP        string `json:"router_http"`
	RouterHTTPS       string `json:"router_https"`
	NATS              string `json:"nats"`
	AppsDomain        string `json:"apps_domain"`
	SystemDomain      string `json:"system_domain"`
	AdminUser         string `json:"admin_user"`
	AdminPassword     string `json:"admin_password"`
	SkipSSLValidation bool   `json:"skip_ssl_validation"`
	CACert            string `json:"ca_cert"`
}

// AdminUser is the name of the platform administrator created by UAA.
const AdminUser = "admin"

func endpointsFor(e *Env) Endpoints {
	o := e.opts
	ep := Endpoints{
		NATS:         e.natsURL,
		AppsDomain:   o.AppsDomain,
		SystemDomain: o.SystemDomain,
		AdminUser:    AdminUser,
		RouterHTTP:   "http://localhost:" + strconv.Itoa(o.RouterHTTPPort),
		RouterHTTPS:  "https://localhost:" + strconv.Itoa(o.RouterHTTPSPort),
		CACert:       e.sec.caFile,
	}
	if e.st != nil {
		ep.AdminPassword = e.st.secret("admin_password")
	}
	if o.SystemDomain != "" {
		// Production shape: the router fronts every system component over
		// HTTPS with a certificate from the internal CA.
		sys := func(name string) string {
			u := "https://" + name + "." + o.SystemDomain
			if o.RouterHTTPSPort != 443 {
				u += ":" + strconv.Itoa(o.RouterHTTPSPort)
			}
			return u
		}
		ep.API, ep.UAA, ep.Login, ep.LogCache = sys("api"), sys("uaa"), sys("login"), sys("log-cache")
		ep.SkipSSLValidation = true
		return ep
	}
	// Daemons not built yet have no port and so no URL.
	local := func(daemon, port string) string {
		p := e.Port(daemon, port)
		if p == 0 {
			return ""
		}
		return "http://localhost:" + strconv.Itoa(p)
	}
	ep.API = "http://localhost:" + strconv.Itoa(o.APIPort)
	ep.UAA = local("uaa", "http")
	ep.Login = ep.UAA
	ep.LogCache = local("loggregator", "http")
	return ep
}

func writeEndpoints(path string, ep Endpoints) error {
	data, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return fmt.Errorf("write endpoints: %w", err)
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600)
}

// ReadEndpoints reads DIR/endpoints.json of a running platform.
func ReadEndpoints(stateDir string) (Endpoints, error) {
	var ep Endpoints
	data, err := os.ReadFile(layout{stateDir}.endpointsFile())
	if err != nil {
		return ep, fmt.Errorf("read endpoints (is the platform up? run anvil dev up): %w", err)
	}
	if err := json.Unmarshal(data, &ep); err != nil {
		return ep, fmt.Errorf("read endpoints: %w", err)
	}
	return ep, nil
}

// Instructions is what `anvil dev up` prints once the platform is ready.
func Instructions(ep Endpoints, stateDir string, running []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Anvil is up. Daemons running: %s\n\n", orNone(running))
	skip := ""
	if ep.SkipSSLValidation {
		skip = " --skip-ssl-validation"
	}
	fmt.Fprintf(&b, "  cf api %s%s\n", ep.API, skip)
	fmt.Fprintf(&b, "  cf login -u %s -p %s\n\n", ep.AdminUser, ep.AdminPassword)
	fmt.Fprintf(&b, "Endpoints and credentials: %s\n", layout{stateDir}.endpointsFile())
	fmt.Fprintf(&b, "Status: anvil dev status --state-dir %s\n", stateDir)
	fmt.Fprintf(&b, "Stop:   anvil dev down --state-dir %s\n", stateDir)
	return b.String()
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none yet (Postgres and NATS only)"
	}
	return strings.Join(names, ", ")
}

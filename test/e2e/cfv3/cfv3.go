// Package cfv3 is a small Cloud Controller v3 client that sends the
// requests the cf CLI sends, in the order it sends them
// (../shared/docs/cf-cli-contract.md §2), for the end-to-end suite.
package cfv3

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Client talks to one Cloud Controller as one user.
type Client struct {
	API   string // http://localhost:9022
	Token string
	HTTP  *http.Client
	// Poll is the pause between polls of jobs, packages, builds and stats.
	Poll time.Duration
}

// Login returns a client logged in with the cf CLI's client (password
// grant), as `cf login` does.
func Login(ctx context.Context, api, uaa, user, password string) (*Client, error) {
	c := &Client{API: strings.TrimSuffix(api, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}, Poll: 250 * time.Millisecond}
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(uaa, "/")+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("cf", "")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("login: status %d: %v", resp.StatusCode, err)
	}
	c.Token = tok.AccessToken
	return c, nil
}

// Error is a non-2xx answer.
type Error struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

// Do sends a request with a JSON body (or raw bytes with contentType) and
// decodes a JSON answer into out. It returns the response headers.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) (http.Header, error) {
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, contentType = bytes.NewReader(b.data), b.contentType
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.API+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "bearer "+c.Token)
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.Header, &Error{Method: method, Path: path, Status: resp.StatusCode, Body: string(data)}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

type rawBody struct {
	data        []byte
	contentType string
}

// Resource is the guid and name of anything.
type Resource struct {
	GUID  string `json:"guid"`
	Name  string `json:"name"`
	State string `json:"state"`
}

type list[T any] struct {
	Resources []T `json:"resources"`
}

// CreateOrgSpace creates an organization and a space in it, as
// `cf create-org` and `cf create-space` do, and returns the space guid.
func (c *Client) CreateOrgSpace(ctx context.Context, org, space string) (string, error) {
	var o Resource
	if _, err := c.Do(ctx, "POST", "/v3/organizations", map[string]any{"name": org}, &o); err != nil {
		return "", err
	}
	var s Resource
	_, err := c.Do(ctx, "POST", "/v3/spaces", map[string]any{
		"name": space, "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": o.GUID}}},
	}, &s)
	return s.GUID, err
}

// ApplyManifest applies a YAML manifest to a space and waits for its job.
func (c *Client) ApplyManifest(ctx context.Context, spaceGUID, manifest string) error {
	h, err := c.Do(ctx, "POST", "/v3/spaces/"+spaceGUID+"/actions/apply_manifest", rawBody{[]byte(manifest), "application/x-yaml"}, nil)
	if err != nil {
		return err
	}
	return c.WaitJob(ctx, h.Get("Location"))
}

// WaitJob polls a job (its Location URL) until it completes.
func (c *Client) WaitJob(ctx context.Context, location string) error {
	u, err := url.Parse(location)
	if err != nil {
		return err
	}
	for {
		var job struct {
			State  string `json:"state"`
			Errors []struct {
				Detail string `json:"detail"`
			} `json:"errors"`
		}
		if _, err := c.Do(ctx, "GET", u.Path, nil, &job); err != nil {
			return err
		}
		switch job.State {
		case "COMPLETE":
			return nil
		case "FAILED":
			return fmt.Errorf("job failed: %+v", job.Errors)
		}
		if err := sleep(ctx, c.Poll); err != nil {
			return err
		}
	}
}

// AppGUID looks an app up by name in a space (the CLI's APP-LOOKUP).
func (c *Client) AppGUID(ctx context.Context, spaceGUID, name string) (string, error) {
	var l list[Resource]
	if _, err := c.Do(ctx, "GET", "/v3/apps?names="+url.QueryEscape(name)+"&space_guids="+spaceGUID, nil, &l); err != nil {
		return "", err
	}
	if len(l.Resources) != 1 {
		return "", fmt.Errorf("app %q: %d found", name, len(l.Resources))
	}
	return l.Resources[0].GUID, nil
}

// Push uploads dir as the app's package, stages it, sets the droplet and
// restarts the app, as `cf push` does after applying the manifest. It
// returns the build's droplet guid.
func (c *Client) Push(ctx context.Context, appGUID, dir string) (string, error) {
	bits, resources, err := zipDir(dir)
	if err != nil {
		return "", err
	}
	var matched struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if _, err := c.Do(ctx, "POST", "/v3/resource_matches", map[string]any{"resources": resources}, &matched); err != nil {
		return "", err
	}
	var pkg Resource
	if _, err := c.Do(ctx, "POST", "/v3/packages", map[string]any{
		"type": "bits", "relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": appGUID}}},
	}, &pkg); err != nil {
		return "", err
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	if err := mw.WriteField("resources", "[]"); err != nil {
		return "", err
	}
	fw, err := mw.CreateFormFile("bits", "package.zip")
	if err != nil {
		return "", err
	}
	if _, err := fw.Write(bits); err != nil {
		return "", err
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	if _, err := c.Do(ctx, "POST", "/v3/packages/"+pkg.GUID+"/upload", rawBody{form.Bytes(), mw.FormDataContentType()}, &pkg); err != nil {
		return "", err
	}
	for pkg.State != "READY" {
		if pkg.State == "FAILED" || pkg.State == "EXPIRED" {
			return "", fmt.Errorf("package %s", pkg.State)
		}
		if err := sleep(ctx, c.Poll); err != nil {
			return "", err
		}
		if _, err := c.Do(ctx, "GET", "/v3/packages/"+pkg.GUID, nil, &pkg); err != nil {
			return "", err
		}
	}
	var build struct {
		GUID    string `json:"guid"`
		State   string `json:"state"`
		Error   string `json:"error"`
		Droplet *struct {
			GUID string `json:"guid"`
		} `json:"droplet"`
	}
	if _, err := c.Do(ctx, "POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": pkg.GUID}}, &build); err != nil {
		return "", err
	}
	for build.State == "STAGING" {
		if err := sleep(ctx, c.Poll); err != nil {
			return "", err
		}
		if _, err := c.Do(ctx, "GET", "/v3/builds/"+build.GUID, nil, &build); err != nil {
			return "", err
		}
	}
	if build.State != "STAGED" || build.Droplet == nil {
		return "", fmt.Errorf("build %s: %s", build.State, build.Error)
	}
	if _, err := c.Do(ctx, "PATCH", "/v3/apps/"+appGUID+"/relationships/current_droplet",
		map[string]any{"data": map[string]string{"guid": build.Droplet.GUID}}, nil); err != nil {
		return "", err
	}
	if _, err := c.Do(ctx, "POST", "/v3/apps/"+appGUID+"/actions/restart", nil, nil); err != nil {
		return "", err
	}
	return build.Droplet.GUID, nil
}

// Instance is one entry of a process's stats.
type Instance struct {
	Index int    `json:"index"`
	State string `json:"state"`
}

// WaitRunning polls the app's web process stats until every instance is
// RUNNING (the cf CLI's start poll) and returns them.
func (c *Client) WaitRunning(ctx context.Context, appGUID string) ([]Instance, error) {
	var proc Resource
	if _, err := c.Do(ctx, "GET", "/v3/apps/"+appGUID+"/processes/web", nil, &proc); err != nil {
		return nil, err
	}
	for {
		var stats list[Instance]
		if _, err := c.Do(ctx, "GET", "/v3/processes/"+proc.GUID+"/stats", nil, &stats); err != nil {
			return nil, err
		}
		running := 0
		for _, in := range stats.Resources {
			if in.State == "RUNNING" {
				running++
			}
		}
		if len(stats.Resources) > 0 && running == len(stats.Resources) {
			return stats.Resources, nil
		}
		if err := sleep(ctx, c.Poll); err != nil {
			return nil, fmt.Errorf("instances %+v: %w", stats.Resources, err)
		}
	}
}

// Scale sets the web process's instance count, as `cf scale -i` does.
func (c *Client) Scale(ctx context.Context, appGUID string, instances int) error {
	_, err := c.Do(ctx, "POST", "/v3/apps/"+appGUID+"/processes/web/actions/scale", map[string]int{"instances": instances}, nil)
	return err
}

// zipDir zips dir as the cf CLI does (unix modes, directories included)
// and returns the zip and the resource-match entries of its files.
func zipDir(dir string) ([]byte, []map[string]any, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var resources []map[string]any
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
			_, err := zw.CreateHeader(hdr)
			return err
		}
		hdr.Method = zip.Deflate
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		if len(data) > 0 {
			sum := sha1.Sum(data)
			resources = append(resources, map[string]any{
				"path": hdr.Name, "mode": fmt.Sprintf("%o", info.Mode().Perm()),
				"checksum": map[string]string{"value": hex.EncodeToString(sum[:])}, "size_in_bytes": len(data),
			})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), resources, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

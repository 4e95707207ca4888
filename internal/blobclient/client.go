// Package blobclient is a typed Go client of the blobstore's v1 API
// (api/blobstore), for internal callers such as the Cloud Controller.
//
// It authenticates with the mutual-TLS client certificate in Config.TLS or
// the shared secret in Config.SharedSecret, and mints signed URLs for
// cells with Config.SigningKey. Bodies are streamed both ways: Put and
// Assemble read their io.Reader as they send, Get returns the response body.
//
//	c, err := blobclient.New(blobclient.Config{URL: "https://blobstore.service.internal:8093", TLS: tlsCfg})
//	info, err := c.Put(ctx, apiblob.BucketDroplets, guid, f, blobclient.PutOptions{SHA256: sum})
//	url, err := c.SignedURL(http.MethodGet, apiblob.BucketDroplets, guid, 15*time.Minute)
//
// Errors from the blobstore are *Error values; errors.Is matches them
// against ErrNotFound, ErrPreconditionFailed and the other sentinels.
package blobclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
)

// Config configures a Client.
type Config struct {
	// URL is the blobstore's base URL, e.g. https://blobstore.service.internal:8093.
	URL string
	// TLS is used for https URLs: RootCAs, and a client certificate for
	// mutual TLS.
	TLS *tls.Config
	// SharedSecret is sent in the X-Blobstore-Secret header when set.
	SharedSecret string
	// SigningKey signs URLs (SignedURL); the blobstore must hold it.
	SigningKey apiblob.Key
	// HTTPClient, when set, is used instead of one built from TLS.
	HTTPClient *http.Client
}

// Client calls the blobstore. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	cfg    Config
	client *http.Client
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("blobclient: URL %q is not an absolute http(s) URL", cfg.URL)
	}
	c := &Client{base: u, cfg: cfg, client: cfg.HTTPClient}
	if c.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg.TLS
		c.client = &http.Client{Transport: tr}
	}
	return c, nil
}

// Sentinels that *Error values match with errors.Is.
var (
	ErrNotFound            = errors.New(apiblob.CodeNotFound)
	ErrPreconditionFailed  = errors.New(apiblob.CodePreconditionFailed)
	ErrDigestMismatch      = errors.New(apiblob.CodeDigestMismatch)
	ErrTooLarge            = errors.New(apiblob.CodeTooLarge)
	ErrInsufficientStorage = errors.New(apiblob.CodeInsufficientStorage)
	ErrForbidden           = errors.New(apiblob.CodeForbidden)
	ErrResourceNotCached   = errors.New(apiblob.CodeResourceNotCached)
)

// Error is an error response of the blobstore.
type Error struct {
	Status      int
	Code        string
	Description string
}

func (e *Error) Error() string {
	return fmt.Sprintf("blobstore: %d %s: %s", e.Status, e.Code, e.Description)
}

// Is matches the sentinel of e's code.
func (e *Error) Is(target error) bool {
	return target != nil && target.Error() == e.Code && slices.Contains(sentinels, target)
}

var sentinels = []error{ErrNotFound, ErrPreconditionFailed, ErrDigestMismatch, ErrTooLarge, ErrInsufficientStorage, ErrForbidden, ErrResourceNotCached}

// PutOptions are optional conditions of a Put.
type PutOptions struct {
	// Size is the body's length when the body is not a *bytes.Reader,
	// *bytes.Buffer or *strings.Reader (whose length is known); 0 means
	// unknown (chunked).
	Size int64
	// SHA256 and SHA1 (hex) are checked by the blobstore before it
	// commits the upload.
	SHA256, SHA1 string
	// IfMatch ("*" or an ETag) and IfNoneMatch make the Put conditional.
	IfMatch     string
	IfNoneMatch bool
}

// Put uploads body to (bucket, key).
func (c *Client) Put(ctx context.Context, bucket, key string, body io.Reader, opts PutOptions) (apiblob.ObjectInfo, error) {
	req, err := c.request(ctx, http.MethodPut, apiblob.ObjectPath(bucket, key), "", body)
	if err != nil {
		return apiblob.ObjectInfo{}, err
	}
	if opts.Size > 0 {
		req.ContentLength = opts.Size
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	setIf(req.Header, apiblob.HeaderSHA256, opts.SHA256)
	setIf(req.Header, apiblob.HeaderSHA1, opts.SHA1)
	setIf(req.Header, "If-Match", opts.IfMatch)
	if opts.IfNoneMatch {
		req.Header.Set("If-None-Match", "*")
	}
	var info apiblob.ObjectInfo
	return info, c.doJSON(req, http.StatusCreated, &info)
}

// Object is a download in progress. Close Body.
type Object struct {
	Info apiblob.ObjectInfo
	Body io.ReadCloser
}

// Get downloads (bucket, key). A non-empty rangeHeader ("bytes=0-99") asks
// for part of it.
func (c *Client) Get(ctx context.Context, bucket, key, rangeHeader string) (*Object, error) {
	req, err := c.request(ctx, http.MethodGet, apiblob.ObjectPath(bucket, key), "", nil)
	if err != nil {
		return nil, err
	}
	setIf(req.Header, "Range", rangeHeader)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("blobclient: get %s/%s: %w", bucket, key, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return &Object{Info: infoFromHeaders(bucket, key, resp), Body: resp.Body}, nil
}

// Head returns the object's info.
func (c *Client) Head(ctx context.Context, bucket, key string) (apiblob.ObjectInfo, error) {
	req, err := c.request(ctx, http.MethodHead, apiblob.ObjectPath(bucket, key), "", nil)
	if err != nil {
		return apiblob.ObjectInfo{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return apiblob.ObjectInfo{}, fmt.Errorf("blobclient: head %s/%s: %w", bucket, key, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiblob.ObjectInfo{}, &Error{Status: resp.StatusCode, Code: codeOf(resp.StatusCode), Description: resp.Status}
	}
	return infoFromHeaders(bucket, key, resp), nil
}

// Delete removes (bucket, key).
func (c *Client) Delete(ctx context.Context, bucket, key string) error {
	req, err := c.request(ctx, http.MethodDelete, apiblob.ObjectPath(bucket, key), "", nil)
	if err != nil {
		return err
	}
	return c.doJSON(req, http.StatusNoContent, nil)
}

// Copy copies src to dst on the server.
func (c *Client) Copy(ctx context.Context, src, dst apiblob.ObjectRef) (apiblob.ObjectInfo, error) {
	b, _ := json.Marshal(apiblob.CopyRequest{Source: src, Destination: dst})
	req, err := c.request(ctx, http.MethodPost, apiblob.CopyPath, "", bytes.NewReader(b))
	if err != nil {
		return apiblob.ObjectInfo{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	var info apiblob.ObjectInfo
	return info, c.doJSON(req, http.StatusCreated, &info)
}

// List returns a page of bucket's keys with prefix after startAfter.
func (c *Client) List(ctx context.Context, bucket, prefix, startAfter string, limit int) (apiblob.ListResponse, error) {
	req, err := c.request(ctx, http.MethodGet, apiblob.ListPath(bucket), apiblob.ListQuery(prefix, startAfter, limit), nil)
	if err != nil {
		return apiblob.ListResponse{}, err
	}
	var resp apiblob.ListResponse
	return resp, c.doJSON(req, http.StatusOK, &resp)
}

// Match returns the resources the cache holds.
func (c *Client) Match(ctx context.Context, rs []apiblob.Resource) ([]apiblob.Resource, error) {
	if rs == nil {
		rs = []apiblob.Resource{}
	}
	b, _ := json.Marshal(apiblob.MatchRequest{Resources: rs})
	req, err := c.request(ctx, http.MethodPost, apiblob.MatchPath, "", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var resp apiblob.MatchRequest
	return resp.Resources, c.doJSON(req, http.StatusOK, &resp)
}

// Assemble builds packages/key from the zip bits (nil when every file was
// matched) and the cached resources rs, streaming bits as it reads it.
func (c *Client) Assemble(ctx context.Context, key string, rs []apiblob.Resource, bits io.Reader) (apiblob.ObjectInfo, error) {
	if rs == nil {
		rs = []apiblob.Resource{}
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			w, err := mw.CreateFormField(apiblob.PartResources)
			if err != nil {
				return err
			}
			if err := json.NewEncoder(w).Encode(rs); err != nil {
				return err
			}
			if bits != nil {
				w, err := mw.CreateFormFile(apiblob.PartBits, "package.zip")
				if err != nil {
					return err
				}
				if _, err := io.Copy(w, bits); err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := c.request(ctx, http.MethodPost, apiblob.AssemblePath(key), "", pr)
	if err != nil {
		pr.Close()
		return apiblob.ObjectInfo{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var info apiblob.ObjectInfo
	err = c.doJSON(req, http.StatusCreated, &info)
	pr.Close()
	return info, err
}

// SignedURL returns a URL that lets its bearer do method on (bucket, key)
// for ttl, signed with Config.SigningKey.
func (c *Client) SignedURL(method, bucket, key string, ttl time.Duration) (string, error) {
	if c.cfg.SigningKey.ID == "" || len(c.cfg.SigningKey.Secret) == 0 {
		return "", errors.New("blobclient: no signing key configured")
	}
	if err := apiblob.ValidateKey(key); err != nil || !apiblob.ValidBucket(bucket) {
		return "", fmt.Errorf("blobclient: cannot sign %s/%s: invalid bucket or key", bucket, key)
	}
	p := apiblob.ObjectPath(bucket, key)
	u := *c.base
	u.Path += p
	u.RawQuery = apiblob.Sign(c.cfg.SigningKey, method, p, time.Now().Add(ttl))
	return u.String(), nil
}

func (c *Client) request(ctx context.Context, method, path, query string, body io.Reader) (*http.Request, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("blobclient: %w", err)
	}
	if c.cfg.SharedSecret != "" {
		req.Header.Set(apiblob.HeaderSecret, c.cfg.SharedSecret)
	}
	return req, nil
}

func (c *Client) doJSON(req *http.Request, want int, out any) error {
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("blobclient: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return decodeError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("blobclient: %s %s: decode response: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	var body apiblob.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if json.Unmarshal(b, &body) != nil || body.Code == "" {
		body.Code, body.Description = codeOf(resp.StatusCode), strings.TrimSpace(string(b))
	}
	return &Error{Status: resp.StatusCode, Code: body.Code, Description: body.Description}
}

func codeOf(status int) string {
	switch status {
	case http.StatusNotFound:
		return apiblob.CodeNotFound
	case http.StatusForbidden:
		return apiblob.CodeForbidden
	case http.StatusUnauthorized:
		return apiblob.CodeUnauthorized
	case http.StatusPreconditionFailed:
		return apiblob.CodePreconditionFailed
	}
	if status >= 500 {
		return apiblob.CodeInternal
	}
	return apiblob.CodeBadRequest
}

func infoFromHeaders(bucket, key string, resp *http.Response) apiblob.ObjectInfo {
	info := apiblob.ObjectInfo{
		Bucket: bucket, Key: key, Size: resp.ContentLength,
		SHA256: resp.Header.Get(apiblob.HeaderSHA256), SHA1: resp.Header.Get(apiblob.HeaderSHA1),
	}
	if cr := resp.Header.Get("Content-Range"); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				info.Size = n
			}
		}
	}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		info.Modified = t.UTC()
	}
	return info
}

func setIf(h http.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}

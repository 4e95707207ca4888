package blobclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/internal/blobclient"
)

func TestNewRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "blobstore:8093", "ftp://x", "http://"} {
		if _, err := blobclient.New(blobclient.Config{URL: u}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}

func TestSignedURL(t *testing.T) {
	t.Parallel()
	key := apiblob.Key{ID: "k", Secret: []byte("0123456789abcdef")}
	c, err := blobclient.New(blobclient.Config{URL: "https://blobstore.internal:8093/", SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.SignedURL(http.MethodGet, apiblob.BucketDroplets, "guid/sum", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host != "blobstore.internal:8093" || u.Path != "/v1/buckets/droplets/objects/guid/sum" {
		t.Fatalf("signed URL %q", raw)
	}
	if _, err := apiblob.Verify([]apiblob.Key{key}, http.MethodGet, u.Path, u.Query(), time.Now()); err != nil {
		t.Errorf("the blobstore would refuse it: %v", err)
	}
	if _, err := c.SignedURL(http.MethodGet, apiblob.BucketDroplets, "../x", time.Minute); err == nil {
		t.Error("signed a traversal key")
	}
	nokey, _ := blobclient.New(blobclient.Config{URL: "http://x"})
	if _, err := nokey.SignedURL(http.MethodGet, apiblob.BucketDroplets, "a", time.Minute); err == nil {
		t.Error("signed without a key")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(apiblob.HeaderSecret) != "s3cret" {
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"not_found","description":"object not found"}`))
	}))
	defer srv.Close()
	c, err := blobclient.New(blobclient.Config{URL: srv.URL, SharedSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Delete(context.Background(), apiblob.BucketPackages, "p")
	var be *blobclient.Error
	if !errors.Is(err, blobclient.ErrNotFound) || errors.Is(err, blobclient.ErrForbidden) || !errors.As(err, &be) || be.Status != 404 || be.Description != "object not found" {
		t.Errorf("err = %#v", err)
	}
	other, _ := blobclient.New(blobclient.Config{URL: srv.URL})
	err = other.Delete(context.Background(), apiblob.BucketPackages, "p")
	if !errors.As(err, &be) || be.Status != http.StatusTeapot || be.Code != apiblob.CodeBadRequest {
		t.Errorf("non-JSON error = %#v", err)
	}
}

package web

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/internal/blobclient"
)

// blobStub is the subset of the blobstore's v1 API the Cloud Controller
// uses (objects, copy, list, match, assemble), in memory. The real daemon
// is another component, which cloudcontroller may not import (test/arch);
// this stub follows api/blobstore: shared-secret or signed-URL auth,
// digests in ObjectInfo, resources echoed unchanged.
type blobStub struct {
	t       testing.TB
	srv     *httptest.Server
	key     apiblob.Key
	secret  string
	mu      sync.Mutex
	objects map[string][]byte // "bucket/key"
	// cache is the resource cache: sha1 → content.
	cache map[string][]byte
	// signedPuts counts uploads through signed URLs.
	signedPuts int
}

func newBlobStub(t testing.TB) (*blobStub, *blobclient.Client) {
	t.Helper()
	b := &blobStub{t: t, key: apiblob.Key{ID: "key-1", Secret: []byte("0123456789abcdef0123")}, secret: "shared-secret-0123456789",
		objects: map[string][]byte{}, cache: map[string][]byte{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	c, err := blobclient.New(blobclient.Config{URL: b.srv.URL, SharedSecret: b.secret, SigningKey: b.key})
	if err != nil {
		t.Fatal(err)
	}
	return b, c
}

func (b *blobStub) get(bucket, key string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.objects[bucket+"/"+key]
	return v, ok
}

func (b *blobStub) keys(bucket string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k := range b.objects {
		if rest, ok := strings.CutPrefix(k, bucket+"/"); ok {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

// cacheFile puts content into the resource cache and returns its sha1.
func (b *blobStub) cacheFile(content []byte) string {
	sum := sha1.Sum(content)
	h := hex.EncodeToString(sum[:])
	b.mu.Lock()
	b.cache[h] = content
	b.mu.Unlock()
	return h
}

func info(bucket, key string, v []byte) apiblob.ObjectInfo {
	s2 := sha256.Sum256(v)
	s1 := sha1.Sum(v)
	return apiblob.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(v)), SHA256: hex.EncodeToString(s2[:]), SHA1: hex.EncodeToString(s1[:]), Modified: time.Now().UTC()}
}

func stubErr(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiblob.Error{Code: code, Description: code})
}

func stubJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (b *blobStub) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	obj, isObject := strings.CutPrefix(p, "/v1/buckets/")
	signed := apiblob.SignedQuery(r.URL.Query())
	switch {
	case signed && isObject && strings.Contains(obj, "/objects/"):
		if _, err := apiblob.Verify([]apiblob.Key{b.key}, r.Method, p, r.URL.Query(), time.Now()); err != nil {
			stubErr(w, http.StatusForbidden, apiblob.CodeForbidden)
			return
		}
	case r.Header.Get(apiblob.HeaderSecret) != b.secret:
		stubErr(w, http.StatusUnauthorized, apiblob.CodeUnauthorized)
		return
	}
	switch {
	case isObject && strings.Contains(obj, "/objects/"):
		bucket, key, _ := strings.Cut(obj, "/objects/")
		b.object(w, r, bucket, key, signed)
	case isObject && strings.HasSuffix(obj, "/objects") && r.Method == http.MethodGet:
		bucket := strings.TrimSuffix(obj, "/objects")
		var resp apiblob.ListResponse
		for _, k := range b.keys(bucket) {
			if strings.HasPrefix(k, r.URL.Query().Get("prefix")) {
				v, _ := b.get(bucket, k)
				resp.Objects = append(resp.Objects, info(bucket, k, v))
			}
		}
		stubJSON(w, http.StatusOK, resp)
	case p == apiblob.CopyPath:
		var req apiblob.CopyRequest
		json.NewDecoder(r.Body).Decode(&req)
		v, ok := b.get(req.Source.Bucket, req.Source.Key)
		if !ok {
			stubErr(w, http.StatusNotFound, apiblob.CodeNotFound)
			return
		}
		b.mu.Lock()
		b.objects[req.Destination.Bucket+"/"+req.Destination.Key] = v
		b.mu.Unlock()
		stubJSON(w, http.StatusCreated, info(req.Destination.Bucket, req.Destination.Key, v))
	case p == apiblob.MatchPath:
		var req apiblob.MatchRequest
		json.NewDecoder(r.Body).Decode(&req)
		out := apiblob.MatchRequest{Resources: []apiblob.Resource{}}
		b.mu.Lock()
		for _, res := range req.Resources {
			if v, ok := b.cache[res.SHA1]; ok && int64(len(v)) == res.Size {
				out.Resources = append(out.Resources, res)
			}
		}
		b.mu.Unlock()
		stubJSON(w, http.StatusOK, out)
	case strings.HasPrefix(p, "/v1/assemble/packages/"):
		b.assemble(w, r, strings.TrimPrefix(p, "/v1/assemble/packages/"))
	default:
		stubErr(w, http.StatusNotFound, apiblob.CodeNotFound)
	}
}

func (b *blobStub) object(w http.ResponseWriter, r *http.Request, bucket, key string, signed bool) {
	switch r.Method {
	case http.MethodPut:
		v, err := io.ReadAll(r.Body)
		if err != nil {
			stubErr(w, http.StatusBadRequest, apiblob.CodeBadRequest)
			return
		}
		b.mu.Lock()
		b.objects[bucket+"/"+key] = v
		if signed {
			b.signedPuts++
		}
		b.mu.Unlock()
		stubJSON(w, http.StatusCreated, info(bucket, key, v))
	case http.MethodGet, http.MethodHead:
		v, ok := b.get(bucket, key)
		if !ok {
			stubErr(w, http.StatusNotFound, apiblob.CodeNotFound)
			return
		}
		in := info(bucket, key, v)
		w.Header().Set(apiblob.HeaderSHA256, in.SHA256)
		w.Header().Set(apiblob.HeaderSHA1, in.SHA1)
		http.ServeContent(w, r, "", in.Modified, bytes.NewReader(v))
	case http.MethodDelete:
		b.mu.Lock()
		_, ok := b.objects[bucket+"/"+key]
		delete(b.objects, bucket+"/"+key)
		b.mu.Unlock()
		if !ok {
			stubErr(w, http.StatusNotFound, apiblob.CodeNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// assemble builds packages/key from the resources part (cached files) and
// the bits zip, and caches the zip's files (as the blobstore does for
// cacheable sizes; here every file).
func (b *blobStub) assemble(w http.ResponseWriter, r *http.Request, key string) {
	mr, err := r.MultipartReader()
	if err != nil {
		stubErr(w, http.StatusBadRequest, apiblob.CodeBadRequest)
		return
	}
	var res []apiblob.Resource
	var bits []byte
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		data, _ := io.ReadAll(part)
		switch part.FormName() {
		case apiblob.PartResources:
			json.Unmarshal(data, &res)
		case apiblob.PartBits:
			bits = data
		}
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rs := range res {
		v, ok := b.cache[rs.SHA1]
		if !ok || int64(len(v)) != rs.Size {
			stubErr(w, http.StatusUnprocessableEntity, apiblob.CodeResourceNotCached)
			return
		}
		fw, _ := zw.Create(rs.Path)
		fw.Write(v)
	}
	if bits != nil {
		zr, err := zip.NewReader(bytes.NewReader(bits), int64(len(bits)))
		if err != nil {
			stubErr(w, http.StatusBadRequest, apiblob.CodeInvalidPackage)
			return
		}
		for _, f := range zr.File {
			if err := zw.Copy(f); err != nil {
				stubErr(w, http.StatusBadRequest, apiblob.CodeInvalidPackage)
				return
			}
			if !f.FileInfo().IsDir() {
				rc, _ := f.Open()
				v, _ := io.ReadAll(rc)
				rc.Close()
				sum := sha1.Sum(v)
				b.cache[hex.EncodeToString(sum[:])] = v
			}
		}
	}
	zw.Close()
	b.objects[apiblob.BucketPackages+"/"+key] = out.Bytes()
	stubJSON(w, http.StatusCreated, info(apiblob.BucketPackages, key, out.Bytes()))
}

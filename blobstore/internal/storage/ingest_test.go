package storage

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
)

func TestIngestDigests(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 5*chunkSize + 7} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 31 >> 3)
		}
		var dst bytes.Buffer
		d, err := Ingest(&dst, bytes.NewReader(data), -1)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if d.Size != int64(n) || d.SHA256 != sha256.Sum256(data) || d.SHA1 != sha1.Sum(data) || !bytes.Equal(dst.Bytes(), data) {
			t.Errorf("%d bytes: wrong digest, size or copy", n)
		}
		if err := d.Check(PutOptions{Size: int64(n), SHA256: d.SHA256[:], SHA1: d.SHA1[:]}); err != nil {
			t.Errorf("Check of its own digests: %v", err)
		}
	}
}

func TestIngestLimit(t *testing.T) {
	t.Parallel()
	data := make([]byte, 3*chunkSize)
	if _, err := Ingest(io.Discard, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Errorf("exactly at the limit: %v", err)
	}
	r := bytes.NewReader(append(data, 1, 2, 3))
	if _, err := Ingest(io.Discard, r, int64(len(data))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if r.Len() != 2 {
		t.Errorf("read %d bytes past the limit, want exactly one", 3-r.Len())
	}
}

type failWriter struct{ after, n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.after {
		return 0, errors.New("disk on fire")
	}
	w.n += len(p)
	return len(p), nil
}

type countReader struct {
	n int64
}

func (r *countReader) Read(p []byte) (int, error) {
	r.n += int64(len(p))
	return len(p), nil
}

func TestIngestWriteErrorStopsReading(t *testing.T) {
	t.Parallel()
	src := &countReader{}
	_, err := Ingest(&failWriter{after: 2 * chunkSize}, src, -1)
	if err == nil || err.Error() != "disk on fire" {
		t.Fatalf("err = %v", err)
	}
	if src.n > int64(2*chunks+3)*chunkSize {
		t.Errorf("kept reading %d bytes after the writer failed", src.n)
	}
}

type cutReader struct{ left int }

func (r *cutReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), r.left)
	r.left -= n
	return n, nil
}

func TestIngestTruncatedBodyIsAnError(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 10, chunkSize + 10} {
		if _, err := Ingest(io.Discard, &cutReader{left: n}, -1); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut after %d bytes: err = %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestDigestCheck(t *testing.T) {
	t.Parallel()
	d := Digest{Size: 3, SHA256: sha256.Sum256([]byte("abc")), SHA1: sha1.Sum([]byte("abc"))}
	other := sha256.Sum256([]byte("x"))
	other1 := sha1.Sum([]byte("x"))
	for _, tt := range []struct {
		opts PutOptions
		want error
	}{
		{PutOptions{Size: -1}, nil},
		{PutOptions{Size: 4}, ErrSizeMismatch},
		{PutOptions{Size: -1, SHA256: other[:]}, ErrDigestMismatch},
		{PutOptions{Size: -1, SHA1: other1[:]}, ErrDigestMismatch},
	} {
		if err := d.Check(tt.opts); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("Check(%+v) = %v, want %v", tt.opts, err, tt.want)
		}
	}
}

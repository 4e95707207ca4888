package storage

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// Digest is what Ingest measured.
type Digest struct {
	Size   int64
	SHA256 [32]byte
	SHA1   [20]byte
}

const (
	chunkSize = 1 << 20
	// chunks is the number of buffers in flight per Ingest: the reader
	// fills one while the writer and both hashers work on others.
	chunks = 4
)

type chunk struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

// spare holds idle chunks between Ingests. Unlike a sync.Pool it is not
// emptied by every GC, so steady uploads allocate nothing; it keeps at most
// cap(spare) MiB.
var spare = make(chan *chunk, 4*chunks)

func getChunk() *chunk {
	select {
	case c := <-spare:
		return c
	default:
		return &chunk{buf: make([]byte, chunkSize)}
	}
}

func putChunk(c *chunk) {
	select {
	case spare <- c:
	default: // enough spares: let the GC have it
	}
}

// Ingest copies src to dst and computes the content's SHA-256 and SHA-1.
// Reading, writing and the two hashes run in parallel on a fixed set of 1
// MiB buffers, so memory stays at a few MiB whatever the size. If maxSize
// is not negative and src holds more than maxSize bytes, Ingest stops after
// maxSize+1 bytes and returns ErrTooLarge. A failed write stops the copy
// and is returned as is; a failed read is returned wrapped.
func Ingest(dst io.Writer, src io.Reader, maxSize int64) (Digest, error) {
	h256, h1 := sha256.New(), sha1.New()
	sinks := [...]io.Writer{dst, h256, h1}
	free := make(chan *chunk, chunks)
	for range chunks {
		free <- getChunk()
	}
	var (
		feeds    [len(sinks)]chan *chunk
		wg       sync.WaitGroup
		failOnce sync.Once
		failed   = make(chan struct{})
		writeErr error
	)
	for i := range sinks {
		feeds[i] = make(chan *chunk, chunks)
		wg.Go(func() {
			broken := false
			for c := range feeds[i] {
				if !broken {
					if _, err := sinks[i].Write(c.buf[:c.n]); err != nil {
						broken = true
						failOnce.Do(func() { writeErr = err; close(failed) })
					}
				}
				if c.refs.Add(-1) == 0 {
					free <- c
				}
			}
		})
	}

	if maxSize >= 0 {
		src = io.LimitReader(src, maxSize+1)
	}
	var total int64
	var readErr error
read:
	for {
		var c *chunk
		select {
		case c = <-free:
		case <-failed:
			break read
		}
		n, err := fill(src, c.buf)
		if n > 0 {
			total += int64(n)
			c.n = n
			c.refs.Store(int32(len(feeds)))
			for _, f := range feeds {
				f <- c
			}
		} else {
			free <- c
		}
		if err == io.EOF { // unwrapped, by the io.Reader contract
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	for _, f := range feeds {
		close(f)
	}
	wg.Wait()
	for range chunks {
		putChunk(<-free)
	}

	switch {
	case writeErr != nil:
		return Digest{}, writeErr
	case readErr != nil:
		return Digest{}, fmt.Errorf("read content: %w", readErr)
	case maxSize >= 0 && total > maxSize:
		return Digest{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxSize)
	}
	d := Digest{Size: total}
	h256.Sum(d.SHA256[:0])
	h1.Sum(d.SHA1[:0])
	return d, nil
}

// fill reads into buf until it is full or src fails. Unlike io.ReadFull it
// returns io.EOF only when src itself does: an io.ErrUnexpectedEOF from src
// (an HTTP body cut short) is an error, never the end of the content.
func fill(src io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if empty++; empty >= 100 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}

// Check compares d with the size and digests opts expects.
func (d Digest) Check(opts PutOptions) error {
	if opts.Size >= 0 && d.Size != opts.Size {
		return fmt.Errorf("%w: got %d bytes, declared %d", ErrSizeMismatch, d.Size, opts.Size)
	}
	if opts.SHA256 != nil && !bytes.Equal(opts.SHA256, d.SHA256[:]) {
		return fmt.Errorf("%w: SHA-256 is %x, expected %x", ErrDigestMismatch, d.SHA256, opts.SHA256)
	}
	if opts.SHA1 != nil && !bytes.Equal(opts.SHA1, d.SHA1[:]) {
		return fmt.Errorf("%w: SHA-1 is %x, expected %x", ErrDigestMismatch, d.SHA1, opts.SHA1)
	}
	return nil
}

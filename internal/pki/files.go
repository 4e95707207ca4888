package pki

import (
	"fmt"
	"os"
	"path/filepath"
)

// Files are the paths of a certificate and its key on disk.
type Files struct {
	Cert string // PEM certificate, mode 0644
	Key  string // PEM private key, mode 0600
}

// FilesIn returns the conventional paths for name in dir: name.crt and
// name.key.
func FilesIn(dir, name string) Files {
	return Files{
		Cert: filepath.Join(dir, name+".crt"),
		Key:  filepath.Join(dir, name+".key"),
	}
}

// WriteFiles writes the certificate and key to dir/name.crt and
// dir/name.key, replacing existing files atomically.
func (c *Cert) WriteFiles(dir, name string) (Files, error) {
	f := FilesIn(dir, name)
	if err := writePair(f, c.CertPEM, c.KeyPEM); err != nil {
		return Files{}, fmt.Errorf("write cert %s: %w", name, err)
	}
	return f, nil
}

// WriteFiles writes the CA certificate and key to dir/name.crt and
// dir/name.key, replacing existing files atomically.
func (ca *CA) WriteFiles(dir, name string) (Files, error) {
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return Files{}, fmt.Errorf("write ca %s: %w", name, err)
	}
	f := FilesIn(dir, name)
	if err := writePair(f, ca.certPEM, keyPEM); err != nil {
		return Files{}, fmt.Errorf("write ca %s: %w", name, err)
	}
	return f, nil
}

// LoadCAFiles loads a CA written by (*CA).WriteFiles.
func LoadCAFiles(f Files) (*CA, error) {
	certPEM, keyPEM, err := readPair(f)
	if err != nil {
		return nil, fmt.Errorf("load ca files: %w", err)
	}
	return LoadCA(certPEM, keyPEM)
}

// LoadCertFiles reads a certificate and key written by (*Cert).WriteFiles.
func LoadCertFiles(f Files) (*Cert, error) {
	certPEM, keyPEM, err := readPair(f)
	if err != nil {
		return nil, fmt.Errorf("load cert files: %w", err)
	}
	return &Cert{CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

func writePair(f Files, certPEM, keyPEM []byte) error {
	// Key first: a certificate on disk without its key is worse than a key
	// without its certificate.
	if err := writeAtomic(f.Key, keyPEM, 0o600); err != nil {
		return err
	}
	return writeAtomic(f.Cert, certPEM, 0o644)
}

func readPair(f Files) (certPEM, keyPEM []byte, err error) {
	certPEM, err = os.ReadFile(f.Cert)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = os.ReadFile(f.Key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// writeAtomic writes data to a temporary file in the same directory (created
// with mode 0600, so key bytes are never world-readable), sets perm and
// renames it over path.
func writeAtomic(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

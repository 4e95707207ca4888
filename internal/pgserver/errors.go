package pgserver

import "errors"

var (
	// ErrBinariesNotFound means initdb or postgres is missing from the
	// binary directory.
	ErrBinariesNotFound = errors.New("postgres binaries not found")

	// ErrAlreadyRunning means a live postmaster already owns the data
	// directory, typically one started by an earlier launcher run. Stop it
	// with StopDataDir.
	ErrAlreadyRunning = errors.New("postgres already running")

	// ErrPortInUse means postgres could not bind its TCP port.
	ErrPortInUse = errors.New("port in use")
)

package builder

import "errors"

// The staging failures Cloud Foundry distinguishes. Their texts are the
// messages CF's builder prints (capitalised, as users and the Cloud
// Controller see them), and ExitCode maps them to CF's exit codes, which the
// Cloud Controller turns into NoAppDetectedError, BuildpackCompileFailed and
// BuildpackReleaseFailed.
var (
	ErrNoAppDetected = errors.New("None of the buildpacks detected a compatible application") //nolint:staticcheck // CF's message
	ErrCompileFailed = errors.New("Failed to compile droplet")                                //nolint:staticcheck // CF's message
	ErrReleaseFailed = errors.New("Failed to build droplet release")                          //nolint:staticcheck // CF's message
	ErrSupplyFailed  = errors.New("Failed to run all supply scripts")                         //nolint:staticcheck // CF's message
	ErrNoSupply      = errors.New("Error: one of the buildpacks chosen to supply dependencies does not support multi-buildpack apps")
	ErrFinalize      = errors.New("Failed to run finalize script") //nolint:staticcheck // CF's message
)

// Exit codes, as CF's buildpackapplifecycle.
const (
	ExitNoAppDetected  = 222
	ExitCompileFailed  = 223
	ExitReleaseFailed  = 224
	ExitSupplyFailed   = 225
	ExitFinalizeFailed = 226
)

// missingFinalizeWarning is printed when supply buildpacks ran but the last
// buildpack only has the legacy bin/compile.
const missingFinalizeWarning = "Warning: the last buildpack is not compatible with multi-buildpack apps and cannot make use of any dependencies supplied by the buildpacks specified before it"

// ExitCode is the builder's exit status for an error returned by Run: 0 for
// nil, CF's code for a staging failure, 1 otherwise. The checks run in CF's
// order, so a failed bin/finalize (wrapped in ErrCompileFailed) exits 223
// as it does on CF; 226 is kept for a finalize failure reported on its own.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrNoAppDetected):
		return ExitNoAppDetected
	case errors.Is(err, ErrCompileFailed):
		return ExitCompileFailed
	case errors.Is(err, ErrReleaseFailed):
		return ExitReleaseFailed
	case errors.Is(err, ErrSupplyFailed), errors.Is(err, ErrNoSupply):
		return ExitSupplyFailed
	case errors.Is(err, ErrFinalize):
		return ExitFinalizeFailed
	default:
		return 1
	}
}

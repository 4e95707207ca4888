package bbsv1

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// codeFor maps an error type to the gRPC code its status carries, so that
// clients which only look at codes still see the right class of failure.
var codeFor = map[ErrorType]codes.Code{
	ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND:        codes.NotFound,
	ErrorType_ERROR_TYPE_RESOURCE_EXISTS:           codes.AlreadyExists,
	ErrorType_ERROR_TYPE_RESOURCE_CONFLICT:         codes.Aborted,
	ErrorType_ERROR_TYPE_INVALID_REQUEST:           codes.InvalidArgument,
	ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION:  codes.FailedPrecondition,
	ErrorType_ERROR_TYPE_RUNNING_ON_DIFFERENT_CELL: codes.FailedPrecondition,
	ErrorType_ERROR_TYPE_UNAVAILABLE:               codes.Unavailable,
	ErrorType_ERROR_TYPE_UNRECOVERABLE:             codes.Internal,
}

// NewError returns a gRPC status error of the given type with an Error
// detail, as every BBS call reports failures.
func NewError(t ErrorType, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	code, ok := codeFor[t]
	if !ok {
		code = codes.Unknown
	}
	st, err := status.New(code, msg).WithDetails(&Error{Type: t, Message: msg})
	if err != nil {
		return status.Error(code, msg)
	}
	return st.Err()
}

// ErrorTypeOf returns the BBS error type an error carries, or
// ERROR_TYPE_UNSPECIFIED when it carries none (a transport failure, a
// context error).
func ErrorTypeOf(err error) ErrorType {
	if err == nil {
		return ErrorType_ERROR_TYPE_UNSPECIFIED
	}
	var withStatus interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &withStatus) {
		return ErrorType_ERROR_TYPE_UNSPECIFIED
	}
	for _, d := range withStatus.GRPCStatus().Details() {
		if e, ok := d.(*Error); ok {
			return e.GetType()
		}
	}
	return ErrorType_ERROR_TYPE_UNSPECIFIED
}

// IsErrorType reports whether err carries the BBS error type t.
func IsErrorType(err error, t ErrorType) bool {
	return ErrorTypeOf(err) == t
}

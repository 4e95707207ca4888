package bbsv1

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want ErrorType
		code codes.Code
	}{
		{"not found", NewError(ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, "desired LRP %q not found", "p"), ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, codes.NotFound},
		{"transition", NewError(ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION, "cannot claim"), ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION, codes.FailedPrecondition},
		{"wrapped", fmt.Errorf("claim: %w", NewError(ErrorType_ERROR_TYPE_RESOURCE_CONFLICT, "tag")), ErrorType_ERROR_TYPE_RESOURCE_CONFLICT, codes.Aborted},
		{"plain status", status.Error(codes.Unavailable, "down"), ErrorType_ERROR_TYPE_UNSPECIFIED, codes.Unavailable},
		{"plain error", fmt.Errorf("boom"), ErrorType_ERROR_TYPE_UNSPECIFIED, codes.Unknown},
		{"nil", nil, ErrorType_ERROR_TYPE_UNSPECIFIED, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ErrorTypeOf(tt.err); got != tt.want {
				t.Errorf("ErrorTypeOf = %v, want %v", got, tt.want)
			}
			if !IsErrorType(tt.err, tt.want) {
				t.Errorf("IsErrorType(%v) = false", tt.want)
			}
			if got := status.Code(tt.err); got != tt.code {
				t.Errorf("code = %v, want %v", got, tt.code)
			}
		})
	}
}

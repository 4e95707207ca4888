package router

import "errors"

// ErrInvalidMessage is wrapped by every error [ParseRegistryMessage] and
// [RegistryMessage.Validate] return.
var ErrInvalidMessage = errors.New("invalid registry message")

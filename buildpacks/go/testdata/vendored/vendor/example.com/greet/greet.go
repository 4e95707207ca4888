// Package greet is a vendored module of go_buildpack's sample app.
package greet

// Hello greets name.
func Hello(name string) string { return "hello, " + name + ", from a vendored module" }

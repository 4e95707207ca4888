// Package staticfile holds the tests of staticfile_buildpack, whose sources
// are the shell scripts in bin/ and the static file server in server/.
package staticfile

// Package nodejs holds the tests of nodejs_buildpack, whose sources are the
// shell scripts in bin/ and lib/.
package nodejs

// Package python holds the tests of python_buildpack, whose sources are the
// shell scripts in bin/ and lib/.
package python

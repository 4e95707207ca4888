// Package ruby holds the tests of ruby_buildpack, whose sources are the
// shell scripts in bin/ and lib/. testdata/src/hello_server is the source
// of the test gem vendored in testdata/gem/vendor/cache (built with
// `gem build` on the stack).
package ruby

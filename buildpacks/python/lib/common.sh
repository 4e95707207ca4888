# shellcheck shell=bash
# Helpers shared by python_buildpack's bin/ scripts (sourced, not run).

# fail MESSAGE: print the message on stderr and fail staging.
fail() {
  echo "       ERROR: $*" >&2
  exit 1
}

# indent: prefix each line of stdin with the buildpack's indentation.
indent() {
  sed 's/^/       /'
}

# has_requirements FILE: whether a requirements file names anything
# (a line that is neither blank nor a comment).
has_requirements() {
  [ -f "$1" ] && grep -qvE '^[[:space:]]*(#.*)?$' "$1"
}

# shellcheck shell=bash
# Helpers shared by ruby_buildpack's bin/ scripts (sourced, not run).

# fail MESSAGE: print the message on stderr and fail staging.
fail() {
  echo "       ERROR: $*" >&2
  exit 1
}

# indent: prefix each line of stdin with the buildpack's indentation.
indent() {
  sed 's/^/       /'
}

# locked GEMFILE_LOCK GEM: whether the lockfile's specs include GEM.
locked() {
  [ -f "$1" ] && grep -qE "^    $2 \(" "$1"
}

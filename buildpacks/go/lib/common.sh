# shellcheck shell=bash
# Helpers shared by go_buildpack's bin/ scripts (sourced, not run).

# fail MESSAGE: print the message on stderr and fail staging.
fail() {
  echo "       ERROR: $*" >&2
  exit 1
}

# module_path GO_MOD: the module path of a go.mod file.
module_path() {
  awk '$1 == "module" { gsub(/"/, "", $2); print $2; exit }' "$1"
}

# binary_name MODULE_PATH: the last element of the module path, skipping a
# major version suffix (example.com/hello/v2 -> hello), as `go build` names it.
binary_name() {
  local mod=$1 name
  name=${mod##*/}
  if [[ $name =~ ^v[0-9]+$ && $mod == */* ]]; then
    mod=${mod%/*}
    name=${mod##*/}
  fi
  printf '%s\n' "$name"
}

# version_newer A B: whether Go version A (1.26, 1.26.8, 1.27rc1) is newer than B.
version_newer() {
  [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$1" ]
}

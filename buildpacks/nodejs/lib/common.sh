# shellcheck shell=bash
# Helpers shared by nodejs_buildpack's bin/ scripts (sourced, not run).

# fail MESSAGE: print the message on stderr and fail staging.
fail() {
  echo "       ERROR: $*" >&2
  exit 1
}

# indent: prefix each line of stdin with the buildpack's indentation.
indent() {
  sed 's/^/       /'
}

# package_field FILE EXPR: evaluates EXPR on the parsed package.json `p`
# with node and prints the result (empty for undefined). Fails staging with
# the parse error when package.json is not valid JSON.
package_field() {
  node -e '
    const fs = require("fs");
    let p;
    try { p = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
    catch (e) { console.error("package.json: " + e.message); process.exit(2); }
    const v = (new Function("p", "return " + process.argv[2]))(p);
    if (v !== undefined && v !== null) console.log(String(v));
  ' "$1" "$2"
}

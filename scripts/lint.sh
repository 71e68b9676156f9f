#!/usr/bin/env bash
# The grep lints of docs/conventions.md: the real clock is read in one place, exceptions are thrown
# only at the edges, threads are started only by the dispatcher, the store and the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() {  # check DESCRIPTION PATTERN ALLOWED_REGEX
  local hits
  hits=$(grep -rnE "$2" src --include='*.cc' --include='*.h' | grep -vE '_test\.cc:' | grep -vE "$3" || true)
  if [[ -n "$hits" ]]; then
    echo "lint: $1:"; echo "$hits"; fail=1
  fi
}
check "::now() outside common/clock.cc" '::now\(\)' '^src/common/clock\.cc:'
check "throw outside cli/ and adapters" '(^|[^_a-z])throw[ ;(]' '^src/cli/'
check "std::thread outside dispatch/, store/, reconcile/, alerts/, cli/" 'std::thread[^_:]' '^src/(dispatch|store|reconcile|alerts|cli)/'
if [[ $fail -ne 0 ]]; then exit 1; fi
echo "lint: ok"

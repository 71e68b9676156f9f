#!/usr/bin/env bash
# The whole test suite, as CI runs it (README "Quick start", second command):
#   1. installs the Debian packages it needs (no-op when present),
#   2. lint: the three grep rules of STYLE.md B8,
#   3. builds with warnings as errors and runs every unit and integration test (ctest), with a
#      private PostgreSQL server started for the run and stopped after (scripts/with-postgres.sh),
#   4. runs a few-second smoke of the benchmark script (no timing assertions),
#   5. builds with AddressSanitizer + UBSan and runs the suite again.
# Set RELAY_SKIP_SANITIZERS=1 to skip step 5 locally.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --test --bench
bash scripts/lint.sh

run_suite() {
  local preset="$1"
  cmake --preset "$preset" >/dev/null
  cmake --build "build/$preset" -j2 >"build/$preset.build.log" 2>&1 || { tail -50 "build/$preset.build.log"; return 1; }
  # The suite runs against a private PostgreSQL (started and stopped around it) as well as SQLite.
  bash scripts/with-postgres.sh bash -c "cd build/$preset && ctest -j2 --output-on-failure --timeout 300"
}

echo "== tests (warnings as errors)"
run_suite ci
echo "== benchmark smoke (a few seconds; keeps bench/bench.py working, asserts no timing)"
python3 bench/bench.py --smoke --bin build/ci/bin/retl-relay > build/bench-smoke.log 2>&1 || { tail -30 build/bench-smoke.log; exit 1; }
tail -3 build/bench-smoke.log
if [[ "${RELAY_SKIP_SANITIZERS:-0}" != "1" ]]; then
  echo "== tests under AddressSanitizer + UBSan"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_suite asan-ubsan
fi

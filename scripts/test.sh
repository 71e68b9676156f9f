#!/usr/bin/env bash
# The whole test suite, as CI runs it (README "Quick start", second command):
#   1. installs the Debian packages it needs (no-op when present),
#   2. lint: the three grep rules of docs/conventions.md,
#   3. builds with warnings as errors and runs every unit and integration test (ctest), with a
#      private PostgreSQL server started for the run and stopped after (scripts/with-postgres.sh),
#      then clang's thread-safety analysis over every production source (scripts/thread-safety.sh),
#   4. runs a few-second smoke of the benchmark script (no timing assertions), the status
#      page in headless Chromium (test/ui/ui_test.py, ~10 s; screenshot in build/ui-screenshot.png),
#      and the container image: built from Debian packages with podman and run (scripts/image-test.sh,
#      ~3 min; RELAY_SKIP_IMAGE=1 skips it),
#   5. reliability: the crash harness (SIGKILL at random moments) and the same under injected
#      RudderStack faults (test/reliability/crash_harness.py; bounded; invariants or exit 1),
#   6. fuzzes each libFuzzer target for a minute (scripts/fuzz.sh; clang 14 + ASan),
#   7. builds with AddressSanitizer + UBSan and runs the suite again,
#   8. builds with ThreadSanitizer and runs the dispatcher, store and server tests.
# Set RELAY_SKIP_SANITIZERS=1 to skip steps 6–8 locally; RELAY_FUZZ_SECONDS changes step 6.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --test --bench --fuzz --ui --image
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
echo "== clang thread-safety analysis of every production source (syntax only, ~1.5 min)"
bash scripts/thread-safety.sh build/ci >build/thread-safety.log 2>&1 || { cat build/thread-safety.log; exit 1; }
tail -1 build/thread-safety.log
echo "== benchmark smoke (a few seconds; keeps bench/bench.py working, asserts no timing)"
python3 bench/bench.py --smoke --bin build/ci/bin/retl-relay > build/bench-smoke.log 2>&1 || { tail -30 build/bench-smoke.log; exit 1; }
tail -3 build/bench-smoke.log
echo "== status page in headless Chromium"
# Debian's interpreter: python3-selenium lives in its dist-packages.
timeout 300 /usr/bin/python3 test/ui/ui_test.py --bin build/ci/bin/retl-relay --screenshot build/ui-screenshot.png
if [[ "${RELAY_SKIP_IMAGE:-0}" != "1" ]]; then
  echo "== container image: mmdebstrap base, podman build, run, send-test, SIGTERM"
  timeout 1800 bash scripts/image-test.sh build/ci
fi
echo "== crash harness: 5 rounds × 500 webhooks, 2 SIGKILLs per round"
python3 test/reliability/crash_harness.py --bin build/ci/bin/retl-relay --rounds 5 --webhooks 500 \
  --json build/crash-harness.json | tail -1
echo "== crash harness under RudderStack faults: 10 rounds × 100 webhooks, 2 SIGKILLs per round"
python3 test/reliability/crash_harness.py --bin build/ci/bin/retl-relay --rounds 10 --webhooks 100 --faults \
  --json build/fault-harness.json | tail -1
if [[ "${RELAY_SKIP_SANITIZERS:-0}" != "1" ]]; then
  echo "== fuzzing"
  bash scripts/fuzz.sh "${RELAY_FUZZ_SECONDS:-60}"
  echo "== tests under AddressSanitizer + UBSan"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_suite asan-ubsan
  echo "== dispatcher, store and server tests under ThreadSanitizer"
  cmake --preset tsan >/dev/null
  cmake --build build/tsan -j2 --target unit_tests >build/tsan.build.log 2>&1 || { tail -50 build/tsan.build.log; exit 1; }
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" bash scripts/with-postgres.sh \
    build/tsan/bin/unit_tests --gtest_filter='DispatcherTest.*:*StoreTest*:BatchExecutorTest.*:ServerTest.*:WebhookHandler*'
fi

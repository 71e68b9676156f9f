#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, ASan; preset `fuzz`) and runs each for a bounded time
# on its seed corpus (fuzz/corpus/<target>/; new inputs go to build/fuzz/corpus-work/, the
# repository's seeds are never modified). Fails on the first crash, leak, timeout or abort, and
# leaves the input in build/fuzz/artifacts/.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60; CI uses the default)
# Reproduce a finding: build/fuzz/bin/fuzz_<target> build/fuzz/artifacts/<target>/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets=(webhook signature config handler admin)

cmake --preset fuzz >/dev/null
# retl-relay too: every library of src/ compiled by clang, whose -Werror=thread-safety checks
# the locking annotations (common/mutex.h) that GCC ignores.
cmake --build build/fuzz -j2 --target "${targets[@]/#/fuzz_}" retl-relay >build/fuzz.build.log 2>&1 || { tail -40 build/fuzz.build.log; exit 1; }

summary=""
for t in "${targets[@]}"; do
  work="build/fuzz/corpus-work/$t" artifacts="build/fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  log="build/fuzz/$t.log"
  echo "== fuzz_$t for ${seconds}s"
  if ! "build/fuzz/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$work" "fuzz/corpus/$t" >"$log" 2>&1; then
    grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -20
    echo "fuzz_$t FAILED: see $log and $artifacts/" >&2
    exit 1
  fi
  runs=$(grep -oE "^Done [0-9]+ runs" "$log" | grep -oE "[0-9]+")
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 | grep -oE "[0-9]+")
  corpus=$(find "$work" -type f | wc -l)
  summary+=$(printf "%-18s %12s executions  %6s coverage points  %5s corpus inputs\n" "fuzz_$t" "$runs" "$cov" "$corpus")$'\n'
done
echo "== fuzzing: no crash in ${#targets[@]} targets × ${seconds}s"
printf "%s" "$summary"

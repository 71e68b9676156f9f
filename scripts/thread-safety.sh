#!/usr/bin/env bash
# Clang's thread-safety analysis over every production source file (src/, tests excepted), as
# CI runs it: the lock annotations (common/mutex.h, common/thread_annotations.h) are checked on
# every target, not only on the fuzz preset's few. Syntax only (no code generated), with the
# flags of the gcc build in BUILD_DIR (default build/ci; its compile_commands.json), -Werror
# included: a warning clang has and gcc lacks (an unused private field, say) fails it too.
# Checks every file, prints each one's findings, and exits 1 if any had one.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/ci}"
db="$build/compile_commands.json"
[[ -f "$db" ]] || { echo "thread-safety: no $db (configure $build first)"; exit 2; }
clang="$(command -v clang++-14 || command -v clang++ || true)"
[[ -n "$clang" ]] || { echo "thread-safety: clang++ not installed (scripts/install-deps.sh --fuzz)"; exit 2; }
python3 - "$db" "$clang" "$PWD/src/" <<'PY'
import concurrent.futures, json, shlex, subprocess, sys
db, clang, src = sys.argv[1], sys.argv[2], sys.argv[3]
jobs = []
for e in json.load(open(db)):
    f = e["file"]
    # The repository's own production sources: not tests, not generated files in the build tree.
    if not f.startswith(src) or f.endswith("_test.cc") or not f.endswith(".cc"):
        continue
    args = shlex.split(e["command"])[1:]
    # Drop the output and dependency-file options; keep defines, includes and warnings.
    keep, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a == f:
            continue
        keep.append(a)
    jobs.append((f, e["directory"], [clang, "-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety",
                                      "-Wno-unknown-warning-option", *keep, f]))
def run(job):
    f, cwd, cmd = job
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return f, p.returncode, p.stderr
bad = 0
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    for f, rc, err in pool.map(run, jobs):
        if rc != 0:
            bad += 1
            print(f"thread-safety: {f}\n{err}")
print(f"thread-safety: {len(jobs)} files, {bad} with findings")
sys.exit(1 if bad else 0)
PY

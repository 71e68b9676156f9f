#!/usr/bin/env bash
# `cmake --install` of a build tree (argument 1) into a scratch DESTDIR, then:
#   - the binary, the systemd unit, the sample config and env file, and the docs are where a
#     packager expects them, and the installed binary accepts the sample config;
#   - the unit passes `systemd-analyze verify` without a single warning, and its sandboxing rates
#     at most 2.0 in `systemd-analyze security --offline` ("OK"; 10 is an unsandboxed service).
# Exit 77 (CTest: skipped) without systemd-analyze.
set -euo pipefail
build=$1
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DESTDIR="$tmp/root" cmake --install "$build" >/dev/null

unit=$(find "$tmp/root" -path '*/lib/systemd/system/retl-relay.service')
[[ -n "$unit" ]] || { echo "FAIL: no lib/systemd/system/retl-relay.service installed"; exit 1; }
exec_path=$(sed -n 's/^ExecStart=\([^ ]*\) serve$/\1/p' "$unit")
[[ -x "$tmp/root$exec_path" ]] || { echo "FAIL: ExecStart=$exec_path is not the installed binary"; exit 1; }
prefix=${exec_path%/bin/retl-relay}
for f in etc/retl-relay/relay.toml.example etc/retl-relay/env.example share/doc/retl-relay/README.md \
         share/doc/retl-relay/deploy.md; do
  [[ -f "$tmp/root$prefix/$f" ]] || { echo "FAIL: $prefix/$f not installed"; exit 1; }
done
DBT_WEBHOOK_SECRET=test-secret RUDDERSTACK_API_TOKEN=test-token "$tmp/root$exec_path" check-config \
  --config "$tmp/root$prefix/etc/retl-relay/relay.toml.example" >/dev/null \
  || { echo "FAIL: the sample config does not load"; exit 1; }

# The unit as installed, pointed at the binary under DESTDIR (verify checks that it exists).
mkdir -p "$tmp/units"
sed "s|^ExecStart=$exec_path|ExecStart=$tmp/root$exec_path|" "$unit" > "$tmp/units/retl-relay.service"
warnings=$(systemd-analyze verify --man=no "$tmp/units/retl-relay.service" 2>&1) || { echo "FAIL: $warnings"; exit 1; }
[[ -z "$warnings" ]] || { echo "FAIL: systemd-analyze verify warns:"; echo "$warnings"; exit 1; }
score=$(systemd-analyze security --offline=yes "$tmp/units/retl-relay.service" 2>&1 | sed -n 's/.*Overall exposure level for retl-relay.service: \([0-9.]*\).*/\1/p')
[[ -n "$score" ]] || { echo "FAIL: no exposure level from systemd-analyze security"; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "FAIL: exposure level $score > 2.0"; exit 1; }
echo "ok: installed under $prefix; unit verified; exposure level $score"

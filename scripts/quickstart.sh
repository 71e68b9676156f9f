#!/usr/bin/env bash
# Quick start: installs dependencies, builds retl-relay, and runs `retl-relay sandbox`: the relay
# on a temporary SQLite file plus the built-in fake RudderStack API, both on loopback. No
# external account is needed. It prints a ready-to-paste command that sends a signed dbt-style
# webhook, then one line per trigger transition. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "building (Release)…" >&2
bash scripts/build.sh release >/tmp/retl-relay-build.log 2>&1 || { tail -40 /tmp/retl-relay-build.log; exit 1; }
exec "$PWD/build/release/bin/retl-relay" sandbox --port "${RELAY_PORT:-8080}" "$@"

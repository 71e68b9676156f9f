#!/usr/bin/env bash
# Quick start: installs dependencies, builds retl-relay, and runs it on SQLite together with the
# built-in fake RudderStack API, both on loopback. No external account is needed.
# Prints a ready-to-paste command that sends a signed dbt-style webhook. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "building (Release)…" >&2
bash scripts/build.sh release >/tmp/retl-relay-build.log 2>&1 || { tail -40 /tmp/retl-relay-build.log; exit 1; }
BIN="$PWD/build/release/bin/retl-relay"

WORK=$(mktemp -d /tmp/retl-relay-quickstart.XXXXXX)
chmod 700 "$WORK"
export RUDDERSTACK_API_TOKEN="demo-token-$RANDOM$RANDOM"
export DBT_WEBHOOK_SECRET="demo-secret-$RANDOM$RANDOM"
PORT="${RELAY_PORT:-8080}"

"$BIN" fake-rudderstack --port-file "$WORK/fake.port" --sync-duration 2s --log-format text 2>"$WORK/fake.log" &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s "$WORK/fake.port" ]] && break; sleep 0.05; done
FAKE_PORT=$(cat "$WORK/fake.port")

cat >"$WORK/relay.toml" <<TOML
[server]
listen = "127.0.0.1:${PORT}"

[store]
url = "sqlite://${WORK}/relay.db"

[dbt]
webhook_secret = "\${DBT_WEBHOOK_SECRET}"

[rudderstack]
api_base = "http://127.0.0.1:${FAKE_PORT}"   # the fake; use region = "us" | "eu" for the real API
token = "\${RUDDERSTACK_API_TOKEN}"

[[route]]
name = "demo"
job_ids = ["123"]
on = ["success"]
connections = ["demo_connection"]
sync_type = "incremental"
TOML

cat <<MSG

retl-relay is starting on http://127.0.0.1:${PORT}/webhooks/dbt (SQLite: ${WORK}/relay.db)
fake RudderStack API on http://127.0.0.1:${FAKE_PORT}   (calls received: curl -s http://127.0.0.1:${FAKE_PORT}/_fake/calls)
config: ${WORK}/relay.toml

In another terminal, send a signed dbt Cloud "run succeeded" webhook:

  DBT_WEBHOOK_SECRET=${DBT_WEBHOOK_SECRET} ${BIN} send-test --url http://127.0.0.1:${PORT}/webhooks/dbt --job-id 123

The relay answers 200 once the event is on disk, then starts a sync of demo_connection; the
log below shows "sync started". Ctrl-C stops the relay and the fake.

MSG
"$BIN" serve --config "$WORK/relay.toml" --log-format text

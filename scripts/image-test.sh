#!/usr/bin/env bash
# The container image, end to end, from Debian packages only (no registry is reachable here):
#   1. base: `mmdebstrap --variant=minbase bookworm` → `podman import` (the Dockerfile's
#      BASE_IMAGE defaults to the public debian:bookworm-slim; this is the same release);
#   2. `podman build` of the repository's Dockerfile (both stages: it compiles the relay);
#   3. run it in zero-config mode (environment, PORT as Cloud Run sets it) with a named volume
#      (health timers off: they need systemd; `podman healthcheck run` runs the check itself)
#      on /var/lib/retl-relay; `retl-relay send-test` from the host signs a webhook and the
#      sync starts on the fake RudderStack; the process is not root; the image's HEALTHCHECK
#      (the binary probing /healthz) passes; SIGTERM stops it with exit 0 within seconds;
#   4. run it again with /etc/retl-relay/relay.toml mounted and the same volume: the event of
#      step 3 is still in the store.
# podman runs with runc and `default_ulimits = []` (crun fails on this kind of machine's
# cgroups), host networking, and private storage under a scratch directory, removed at the end.
# Usage: scripts/image-test.sh BUILD_DIR (for the host-side retl-relay: fake API, send-test).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-build/ci}")/bin/retl-relay"
[[ -x "$bin" ]] || { echo "image-test: $bin not built"; exit 1; }

work=$(mktemp -d /tmp/retl-relay-image.XXXXXX)
export CONTAINERS_CONF="$work/containers.conf"
printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n' > "$CONTAINERS_CONF"
P=(podman --root "$work/storage" --runroot "$work/run")
fake_pid=""
cleanup() {
  [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null || true
  "${P[@]}" rm -af >/dev/null 2>&1 || true
  "${P[@]}" system reset --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "image-test: FAIL: $*"; [[ -n "${ctr:-}" ]] && "${P[@]}" logs "$ctr" 2>&1 | tail -20; exit 1; }
step() { echo "image-test: $* ($(( SECONDS ))s)"; }

step "base image from Debian packages (mmdebstrap)"
timeout 300 mmdebstrap --quiet --variant=minbase bookworm "$work/base.tar" >"$work/mmdebstrap.log" 2>&1 \
  || { tail -20 "$work/mmdebstrap.log"; fail "mmdebstrap"; }
"${P[@]}" import --quiet "$work/base.tar" localhost/debian-base:bookworm >/dev/null
rm -f "$work/base.tar"

step "podman build"
timeout 1500 "${P[@]}" build --quiet --network=host --format docker \
  --build-arg BASE_IMAGE=localhost/debian-base:bookworm -t localhost/retl-relay:test . >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; fail "podman build"; }
"${P[@]}" image inspect localhost/retl-relay:test --format '{{.Config.User}} {{.Config.ExposedPorts}} {{.Config.Healthcheck.Test}}' \
  | grep -q '^10001:10001 map\[8080/tcp:{}\] \[CMD retl-relay probe\]$' || fail "image config (user, port, healthcheck)"
step "image size $("${P[@]}" image inspect localhost/retl-relay:test --format '{{.Size}}' | awk '{printf "%d MB", $1/1e6}')"

token=image-test-token
secret=image-test-secret
RUDDERSTACK_API_TOKEN=$token "$bin" fake-rudderstack --port-file "$work/fake.port" --sync-duration 500ms \
  --log-level warn >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [[ -s "$work/fake.port" ]] && break; sleep 0.1; done
[[ -s "$work/fake.port" ]] || { cat "$work/fake.log"; fail "the fake RudderStack did not start"; }
fake_port=$(cat "$work/fake.port")
relay_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${P[@]}" volume create retl-relay-state >/dev/null

wait_healthy() {
  for _ in $(seq 100); do
    "$bin" probe --quiet "http://127.0.0.1:$relay_port/healthz" && return 0
    sleep 0.1
  done
  fail "the relay never answered /healthz"
}
starts() {
  curl -s "http://127.0.0.1:$fake_port/_fake/calls" | python3 -c \
    'import json,sys; print(sum(1 for c in json.load(sys.stdin)["calls"] if c["endpoint"]=="start" and c["real_status"]==200))'
}

step "run: zero-config mode, PORT, a named volume"
ctr=$("${P[@]}" run -d --network=host --health-interval disable --name relay-env \
  -e RUDDERSTACK_API_TOKEN=$token -e RETL_CONNECTION_ID=conn_image -e DBT_WEBHOOK_SECRET=$secret \
  -e RUDDERSTACK_API_BASE="http://127.0.0.1:$fake_port" -e PORT="$relay_port" \
  -v retl-relay-state:/var/lib/retl-relay localhost/retl-relay:test)
wait_healthy
uid=$("${P[@]}" exec "$ctr" sh -c 'id -u')
[[ "$uid" == "10001" ]] || fail "the relay runs as uid $uid, not 10001"
ps_uid=$("${P[@]}" top "$ctr" user | awk 'NR==2 {print $1}')
[[ "$ps_uid" != "root" && -n "$ps_uid" ]] || fail "the relay process runs as '$ps_uid'"
"${P[@]}" healthcheck run "$ctr" >/dev/null || fail "the image's HEALTHCHECK failed"
DBT_WEBHOOK_SECRET=$secret "$bin" send-test --url "http://127.0.0.1:$relay_port/webhooks/dbt" --job-id 123 \
  >"$work/send-test.out" || { cat "$work/send-test.out"; fail "send-test"; }
for _ in $(seq 100); do [[ "$(starts)" == "1" ]] && break; sleep 0.1; done
[[ "$(starts)" == "1" ]] || fail "no sync started on the fake RudderStack"
step "sync started; the relay runs as uid $uid ($ps_uid)"

stop_started=$SECONDS
"${P[@]}" stop -t 10 "$ctr" >/dev/null
took=$(( SECONDS - stop_started ))
code=$("${P[@]}" inspect "$ctr" --format '{{.State.ExitCode}}')
[[ "$code" == "0" ]] || fail "exit code $code after SIGTERM"
(( took <= 5 )) || fail "SIGTERM took ${took}s (podman's SIGKILL comes at 10 s)"
"${P[@]}" logs "$ctr" 2>&1 | grep -q '"retl-relay stopped"' || fail "no clean stop in the log"
step "SIGTERM: exit 0 in ${took}s"

step "run: /etc/retl-relay/relay.toml mounted, the same volume"
cat > "$work/relay.toml" <<EOF
[server]
listen = "127.0.0.1:\${PORT}"
[dbt]
webhook_secret = "\${DBT_WEBHOOK_SECRET}"
[rudderstack]
token = "\${RUDDERSTACK_API_TOKEN}"
api_base = "http://127.0.0.1:$fake_port"
[[route]]
name = "main"
job_ids = ["123"]
connections = ["conn_image"]
EOF
chmod 644 "$work/relay.toml"
ctr=$("${P[@]}" run -d --network=host --health-interval disable --name relay-file \
  -e RUDDERSTACK_API_TOKEN=$token -e DBT_WEBHOOK_SECRET=$secret -e PORT="$relay_port" \
  -v "$work/relay.toml:/etc/retl-relay/relay.toml:ro" -v retl-relay-state:/var/lib/retl-relay localhost/retl-relay:test)
wait_healthy
"${P[@]}" logs "$ctr" 2>&1 | grep -q '"config":"/etc/retl-relay/relay.toml"' || fail "the mounted config was not read"
events=$("${P[@]}" exec "$ctr" retl-relay events --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))')
[[ "$events" == "1" ]] || fail "the volume lost the event ($events events)"
"${P[@]}" stop -t 10 "$ctr" >/dev/null
step "ok: config file read, state kept in the volume"

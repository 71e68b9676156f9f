#!/usr/bin/env bash
# Runs a command with a private PostgreSQL server: initdb into a temporary directory as an
# unprivileged user, a free port on 127.0.0.1, stopped (and removed) at the end, whatever the
# command's outcome. Exports for the command:
#   RELAY_TEST_PG_URL    postgresql://relay@127.0.0.1:PORT/relay
#   RELAY_TEST_PG_STOP   a shell command that stops the server (tests of outages)
#   RELAY_TEST_PG_START  a shell command that starts it again
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "$PGBIN" || ! -x "$PGBIN/initdb" ]]; then
  echo "with-postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
fi

# initdb refuses to run as root: use the postgres system user (Debian's package creates it).
RUN_AS=()
if [[ $(id -u) -eq 0 ]]; then RUN_AS=(runuser -u postgres --); fi

DIR=$(mktemp -d /tmp/retl-relay-pg.XXXXXX)
chmod 755 "$DIR"
[[ $(id -u) -eq 0 ]] && chown postgres "$DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

cleanup() {
  "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

"${RUN_AS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U relay --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 ||
  { cat "$DIR/initdb.log" >&2; exit 1; }
PGOPTS="-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c fsync=on -c synchronous_commit=on -c max_connections=200"
START="${RUN_AS[*]} $PGBIN/pg_ctl -D $DIR/data -l $DIR/server.log -w -t 30 -o '$PGOPTS' start"
STOP="${RUN_AS[*]} $PGBIN/pg_ctl -D $DIR/data -m fast -w stop"
bash -c "$START" >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
"${RUN_AS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U relay relay

export RELAY_TEST_PG_URL="postgresql://relay@127.0.0.1:$PORT/relay"
export RELAY_TEST_PG_START="$START"
export RELAY_TEST_PG_STOP="$STOP"
echo "with-postgres: PostgreSQL on 127.0.0.1:$PORT (data in $DIR)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc

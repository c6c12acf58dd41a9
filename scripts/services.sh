#!/usr/bin/env bash
# Runs a command with PostgreSQL (127.0.0.1:5432, trust auth, database `test`)
# and Redis (127.0.0.1:6379) available, as the end-to-end tests expect.
# A server already listening is used as it is; a missing one is started from
# the installed binaries in a throw-away folder and stopped afterwards.
#   scripts/services.sh python -m pytest tests/e2e
# Needs, when a server is not already running: Debian's postgresql and
# redis-server packages (apt-get install -y postgresql redis-server).
set -euo pipefail
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
tmp=$(mktemp -d)
started=()
cleanup() {
  for service in "${started[@]}"; do
    case $service in
      postgres) runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$tmp/pg" -m fast stop >/dev/null 2>&1 || true ;;
      redis) kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true ;;
    esac
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! listening 5432; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "${PG_BIN:-}/initdb" ] || { echo "PostgreSQL is not running on 127.0.0.1:5432 and not installed (apt-get install -y postgresql)" >&2; exit 1; }
  echo "Starting a throw-away PostgreSQL on 127.0.0.1:5432"
  mkdir -p "$tmp/pg" && chown postgres "$tmp" "$tmp/pg" && chmod 755 "$tmp"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$tmp/pg" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$tmp/pg" -o "-h 127.0.0.1 -p 5432 -k $tmp/pg" -l "$tmp/pg.log" -w start >/dev/null
  started+=(postgres)
  runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -U postgres test
fi
if ! listening 6379; then
  command -v redis-server >/dev/null || { echo "Redis is not running on 127.0.0.1:6379 and not installed (apt-get install -y redis-server)" >&2; exit 1; }
  echo "Starting a throw-away Redis on 127.0.0.1:6379"
  redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --daemonize yes --pidfile "$tmp/redis.pid" --dir "$tmp" >/dev/null
  started+=(redis)
  for _ in $(seq 50); do listening 6379 && break; sleep 0.1; done
fi
"$@"

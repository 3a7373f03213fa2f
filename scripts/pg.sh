# shellcheck shell=bash
# A private Postgres cluster for jouleprint, in the project-local folder .local/pg.
# Source this file, then:
#   pg_start   create the cluster on first use, start it (idempotent) and export
#              JOULEPRINT_DATABASE_URL and DATABASE_URL, unless the user already
#              set JOULEPRINT_DATABASE_URL (then nothing is started).
#   pg_stop    stop the cluster if pg_start started it.
# Postgres refuses to run as root: when run as root, the cluster belongs to the
# `postgres` user and runs through `runuser`.
# Settings: JOULEPRINT_PG_PORT (default 54329), JOULEPRINT_PG_DIR (default .local/pg).

_pg_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOULEPRINT_PG_DIR="${JOULEPRINT_PG_DIR:-$_pg_root/.local/pg}"
_pg_port_fixed="${JOULEPRINT_PG_PORT:-}"
JOULEPRINT_PG_PORT="${JOULEPRINT_PG_PORT:-54329}"
_pg_started_here=""

_pg_bin() {
  # The server binaries' folder (initdb, pg_ctl, psql), e.g. /usr/lib/postgresql/15/bin.
  # Explicit statuses: in an EXIT trap a bare `return` returns the status the
  # trap came in with (130 after Ctrl-C), and pg_stop would stop nothing.
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
      echo "$d"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return 0
  fi
  return 1
}

_pg_as() {
  # Run a command as the cluster's owner.
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  if [ -n "${JOULEPRINT_DATABASE_URL:-}" ]; then
    echo "pg.sh: using JOULEPRINT_DATABASE_URL from the environment; no local cluster started" >&2
    export DATABASE_URL="${DATABASE_URL:-$JOULEPRINT_DATABASE_URL}"
    return 0
  fi
  local bin
  if ! bin="$(_pg_bin)"; then
    echo "pg.sh: no Postgres found (install it: apt-get install postgresql, or set JOULEPRINT_DATABASE_URL)" >&2
    return 1
  fi
  local data="$JOULEPRINT_PG_DIR/data" sock="$JOULEPRINT_PG_DIR/socket"
  mkdir -p "$JOULEPRINT_PG_DIR" "$sock"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$JOULEPRINT_PG_DIR"
    # The postgres user must be able to reach the folder.
    local d="$JOULEPRINT_PG_DIR"
    while [ "$d" != "/" ]; do
      chmod o+x "$d" 2>/dev/null || true
      d="$(dirname "$d")"
    done
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    echo "pg.sh: creating a Postgres cluster in $data" >&2
    _pg_as "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$JOULEPRINT_PG_DIR/initdb.log" 2>&1 ||
      _pg_as "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >"$JOULEPRINT_PG_DIR/initdb.log" 2>&1 || {
      cat "$JOULEPRINT_PG_DIR/initdb.log" >&2
      return 1
    }
  fi
  local port="$JOULEPRINT_PG_PORT"
  if _pg_as "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    # Already running (started earlier): use its port.
    port="$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || echo "$port")"
  else
    # Another cluster (another checkout) may hold the port: take the next free one,
    # unless the user chose the port.
    if [ -z "${_pg_port_fixed:-}" ]; then
      local tries=0
      while "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" >/dev/null 2>&1 ||
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
        tries=$((tries + 1))
        if [ "$tries" -gt 20 ]; then
          echo "pg.sh: no free port from $JOULEPRINT_PG_PORT on" >&2
          return 1
        fi
      done
    fi
    _pg_as "$bin/pg_ctl" -D "$data" -l "$JOULEPRINT_PG_DIR/postgres.log" -w -t 30 \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null || {
      tail -n 20 "$JOULEPRINT_PG_DIR/postgres.log" >&2
      return 1
    }
    _pg_started_here=1
  fi
  export JOULEPRINT_DATABASE_URL="postgres://postgres@127.0.0.1:$port/jouleprint"
  export DATABASE_URL="$JOULEPRINT_DATABASE_URL"
  # The application database (the server and tests create their own as needed).
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'jouleprint'" | grep -q 1 ||
    "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE jouleprint" >/dev/null
  echo "pg.sh: Postgres ready at $JOULEPRINT_DATABASE_URL" >&2
}

pg_stop() {
  if [ -z "$_pg_started_here" ]; then
    return 0
  fi
  local bin
  bin="$(_pg_bin)" || return 0
  _pg_as "$bin/pg_ctl" -D "$JOULEPRINT_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  _pg_started_here=""
}

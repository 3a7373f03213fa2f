#!/usr/bin/env bash
# scripts/pg.sh's pg_stop must stop the cluster from an EXIT trap after an
# interrupt, as run.sh, test.sh and e2e.sh use it: a script that started
# Postgres is sent SIGINT (Ctrl-C) or SIGTERM, exits 130 through its trap, and
# no Postgres of its data folder is left running.
# (Inside a trap a bare `return` returns the status the trap came in with, so
# a helper ending in `return` looked like a failure there: issue 17, item 10.)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

# A process that has exited may stay a zombie until its reaper collects it.
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $st != Z* ]]
}

fail=0
for sig in INT TERM; do
  dir=$(mktemp -d "${TMPDIR:-/tmp}/jouleprint-pgtrap.XXXXXX")
  log="$dir/child.log"
  # The child: what run.sh does (start, trap, wait), without the server. A
  # script without job control starts background commands with SIGINT
  # ignored, and an ignored signal cannot be trapped: `env --default-signal`
  # gives the child the disposition a terminal's Ctrl-C finds.
  env --default-signal=INT,TERM -u JOULEPRINT_DATABASE_URL -u DATABASE_URL -u JOULEPRINT_PG_PORT \
    JOULEPRINT_PG_DIR="$dir/pg" bash -c '
      set -euo pipefail
      source "$1/scripts/pg.sh"
      pg_start
      trap pg_stop EXIT
      trap "exit 130" INT TERM
      echo started
      sleep 600 &
      wait $!
    ' child "$ROOT" >"$log" 2>&1 &
  child=$!
  for _ in $(seq 1 600); do
    grep -q '^started' "$log" 2>/dev/null && break
    kill -0 "$child" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^started' "$log"; then
    echo "pg-stop-on-interrupt: the child did not start Postgres:" >&2
    cat "$log" >&2
    rm -rf "$dir"
    exit 1
  fi
  pid=$(head -1 "$dir/pg/data/postmaster.pid")
  alive "$pid"  # running now
  kill -"$sig" "$child"
  # never hang: a child that ignores the signal is a failure, not a wait
  for _ in $(seq 1 300); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$child" 2>/dev/null; then
    echo "pg-stop-on-interrupt: FAILED: the script did not exit within 30 s of SIG$sig" >&2
    pkill -KILL -P "$child" 2>/dev/null || true
    kill -KILL "$child" 2>/dev/null || true
    fail=1
  fi
  rc=0
  wait "$child" || rc=$?
  # pg_ctl -w stop has returned before the child exits: nothing may be left
  if alive "$pid"; then
    echo "pg-stop-on-interrupt: FAILED: after SIG$sig (exit $rc) Postgres $pid is still running" >&2
    fail=1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  else
    echo "pg-stop-on-interrupt: SIG$sig: exit $rc, Postgres stopped"
  fi
  if [ "$rc" != 130 ]; then
    echo "pg-stop-on-interrupt: FAILED: after SIG$sig the script exited $rc, not 130" >&2
    fail=1
  fi
  rm -rf "$dir"
done
exit "$fail"

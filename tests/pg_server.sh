#!/usr/bin/env bash
# A throw-away PostgreSQL server for the test suite's PostgreSQL variants (see tests/conftest.py).
#
#   tests/pg_server.sh run CMD ARGS...   start a server, run CMD with FORECASTER_TEST_PG_URL set, stop it
#   tests/pg_server.sh start DIR         start one in DIR (new or empty); prints its URL on stdout
#   tests/pg_server.sh stop DIR          stop the one in DIR
#
# e.g.  tests/pg_server.sh run .venv/bin/pytest -q tests/test_db.py
#
# The cluster lives in DIR only: listening on 127.0.0.1 on a free port, its socket in DIR, a
# `forecaster` role with a random password (scram-sha-256, so the password path is the real one)
# that may create the per-test databases. Durability is switched off (fsync, full-page writes):
# nothing in it outlives the run, and the tests create and drop a database each.
# initdb refuses to run as root, so as root the server runs as the `postgres` user the Debian
# package creates; as anyone else it runs as that user.
set -euo pipefail

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$dir" ] && command -v initdb >/dev/null; then
        dir=$(dirname "$(command -v initdb)")
    fi
    if [ -z "$dir" ] || [ ! -x "$dir/pg_ctl" ]; then
        echo "pg_server.sh: PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
        exit 1
    fi
    echo "$dir"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=$1 bin port password
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    cd "$dir"  # the server's user may not be allowed into the caller's folder
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    printf '%s\n' "$password" >"$dir/pwfile"
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres: "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --no-locale -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/pwfile" >"$dir/initdb.log"
    rm -f "$dir/pwfile"
    port=$(free_port)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
        start >/dev/null
    # The role the tests use: not a superuser, allowed to create (and so drop) its databases.
    as_owner "$bin/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE forecaster LOGIN CREATEDB PASSWORD '$password'" \
        -c "CREATE DATABASE forecaster OWNER forecaster" >/dev/null
    echo "postgresql+psycopg://forecaster:$password@127.0.0.1:$port/forecaster"
}

stop() {
    local dir
    dir=$(cd "$1" 2>/dev/null && pwd) || return 0
    [ -d "$dir/data" ] || return 0
    cd "$dir"
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
}

case "${1:-}" in
    start) start "${2:?usage: pg_server.sh start DIR}" ;;
    stop) stop "${2:?usage: pg_server.sh stop DIR}" ;;
    run)
        shift
        [ $# -gt 0 ] || { echo "usage: pg_server.sh run CMD ARGS..." >&2; exit 2; }
        work=$(mktemp -d)
        trap 'stop "$work"; rm -rf "$work"' EXIT
        FORECASTER_TEST_PG_URL=$(start "$work")
        export FORECASTER_TEST_PG_URL
        "$@"
        ;;
    *)
        echo "usage: pg_server.sh start DIR | stop DIR | run CMD ARGS..." >&2
        exit 2
        ;;
esac

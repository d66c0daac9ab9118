#!/usr/bin/env bash
# Vermilion's developer commands. On a fresh machine with Python 3.11 and apt:
#   ./dev.sh run  [server flags...]   set up, then run a node (python -m server)
#   ./dev.sh test [pytest args...]    set up (venv + Debian's redis packages), run every test
#   ./dev.sh bench [args...]          side-by-side benchmark against real Redis (bench/)
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=.venv

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_system() {
  # Debian's Redis 7.0 is the reference for the interoperability and differential tests.
  local need=()
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v redis-cli >/dev/null || need+=(redis-tools)
  command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
  command -v taskset >/dev/null || need+=(util-linux)
  # tests/persistence/test_aof_fsync.py watches both servers' write/fsync calls with strace.
  command -v strace >/dev/null || need+=(strace)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    apt_install "${need[@]}"
  fi
}

ensure_postgres() {
  # tests/strategies start their own throwaway PostgreSQL cluster (initdb + pg_ctl in a temp
  # dir, as the postgres user when run as root): they need Debian's server binaries, not a service.
  if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "installing postgresql" >&2
    apt_install postgresql
  fi
}

ensure_build_tools() {
  # python-lzf (RDB string compression) ships as source only: it needs a compiler and headers.
  local need=()
  command -v gcc >/dev/null || need+=(gcc)
  "$PY" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || need+=(python3-dev)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    apt_install "${need[@]}"
  fi
}

ensure_venv() {
  ensure_build_tools
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      apt_install python3-venv
      "$PY" -m venv "$VENV"
    fi
  fi
  if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    touch "$VENV/.installed"
  fi
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    ensure_venv
    exec "$VENV/bin/python" -m server "$@"
    ;;
  test)
    ensure_system
    ensure_postgres
    ensure_venv
    exec "$VENV/bin/python" -m pytest -n 2 "$@"
    ;;
  bench)
    ensure_system
    ensure_venv
    exec "$VENV/bin/python" -m bench "$@"
    ;;
  *)
    sed -n '2,5p' "$0"
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Makes sure redis-server and redis-cli are on PATH before the test suite starts a real cluster.
# Installs them with apt-get when we can (Debian/Ubuntu, running as root); otherwise stops and
# says exactly what to run. The suite never mocks Redis, so without these binaries it cannot run.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have redis-server && have redis-cli; then
  exit 0
fi

if have apt-get && [ "$(id -u)" = "0" ]; then
  echo "tiercache: redis-server/redis-cli missing; installing redis-server redis-tools with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be empty or stale on a fresh machine: refresh them once before installing.
  apt-get update -qq
  apt-get install -y -qq redis-server redis-tools >/dev/null
  # Debian's package starts a system redis on 6379; the tests do not use it, and it must not hold ports.
  if have systemctl; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
  if have redis-server && have redis-cli; then exit 0; fi
fi

cat >&2 <<'MSG'
tiercache: the tests need redis-server and redis-cli (Redis 7), which are not installed.
Install them, then run `npm test` again:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y redis-server redis-tools
  macOS:          brew install redis
MSG
exit 1

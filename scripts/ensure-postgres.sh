#!/usr/bin/env bash
# Make sure the PostgreSQL server on 127.0.0.1:5432 accepts connections.
#
#   scripts/ensure-postgres.sh            start it if it is down and we can; warn if it stays down
#   scripts/ensure-postgres.sh --require  same, but exit 1 (loudly) if it is not up within 30 s
#
# --require is implied when TRACKING_REQUIRE_POSTGRES=1 (as .ci/run sets it).
# Starting uses the Debian cluster tools, as root: pg_ctlcluster --skip-systemctl-redirect VERSION main start
set -euo pipefail

PGHOST_CHECK=127.0.0.1
PGPORT_CHECK="${ENSURE_PG_PORT:-5432}"     # overridable only to test this script on a scratch cluster
CLUSTER="${ENSURE_PG_CLUSTER:-main}"
WAIT_SECONDS=30

require=0
if [[ "${1:-}" == "--require" || "${TRACKING_REQUIRE_POSTGRES:-}" == "1" ]]; then
  require=1
fi

fail() {
  if [[ $require == 1 ]]; then
    {
      echo "=================================================================="
      echo "ERROR: PostgreSQL is not reachable on ${PGHOST_CHECK}:${PGPORT_CHECK}: $*"
      echo "The PostgreSQL tests cannot run; refusing to continue."
      echo "=================================================================="
    } >&2
    exit 1
  fi
  echo "warning: PostgreSQL is not reachable on ${PGHOST_CHECK}:${PGPORT_CHECK}: $*" >&2
  echo "warning: PostgreSQL tests will be skipped (set TRACKING_REQUIRE_POSTGRES=1 to fail instead)" >&2
  exit 0
}

if ! command -v pg_isready >/dev/null 2>&1; then
  fail "pg_isready not found (Debian package postgresql-client)"
fi

is_ready() { pg_isready -q -h "$PGHOST_CHECK" -p "$PGPORT_CHECK"; }

if is_ready; then
  exit 0
fi

if [[ -d /etc/postgresql && "$(id -u)" == 0 ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
  # Normally exactly one version directory (e.g. /etc/postgresql/15); start the 'main' cluster of each.
  started=0
  for version_dir in /etc/postgresql/*/; do
    version="$(basename "$version_dir")"
    [[ -d "${version_dir}${CLUSTER}" ]] || continue
    echo "PostgreSQL is down: pg_ctlcluster --skip-systemctl-redirect ${version} ${CLUSTER} start"
    # Non-zero also when it is already starting; the wait below decides.
    pg_ctlcluster --skip-systemctl-redirect "$version" "$CLUSTER" start || true
    started=1
  done
  if [[ $started == 0 ]]; then
    fail "server down and no cluster /etc/postgresql/*/${CLUSTER} to start"
  fi
  for _ in $(seq 1 "$WAIT_SECONDS"); do
    if is_ready; then
      echo "PostgreSQL is up on ${PGHOST_CHECK}:${PGPORT_CHECK}"
      exit 0
    fi
    sleep 1
  done
  fail "still down ${WAIT_SECONDS} s after pg_ctlcluster start"
fi

if [[ "$(id -u)" != 0 ]]; then
  fail "server down and not root; start it with: sudo pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
fi
fail "server down and no Debian cluster under /etc/postgresql to start"

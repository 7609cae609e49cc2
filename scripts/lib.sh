# Shared helpers for scripts/: make sure the machine has what the suite needs.

# The PostgreSQL server the tests use (the default is crates/paylink-store-sql/src/testing.rs's).
postgres_url() {
  echo "${PAYLINK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
}

# Whether a PostgreSQL server answers at postgres_url (up is enough: one that then refuses
# the tests' connections fails them, it does not skip them).
postgres_answers() {
  local url
  url="$(postgres_url)"
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 3 -d "$url"
  elif command -v psql >/dev/null 2>&1; then
    PGCONNECT_TIMEOUT=3 psql -w -Atq -c 'SELECT 1' "$url" >/dev/null 2>&1
  else
    # No client tools: whether anything listens at the URL's host and port.
    local hostport="${url#*://}"
    hostport="${hostport#*@}"
    hostport="${hostport%%/*}"
    hostport="${hostport%%\?*}"
    local host="${hostport%:*}" port="${hostport##*:}"
    [ "$port" = "$hostport" ] && port=5432
    timeout 3 bash -c ": >/dev/tcp/$host/$port" 2>/dev/null
  fi
}

# Starts the local PostgreSQL cluster when it is installed but not running.
ensure_postgres() {
  local url
  url="$(postgres_url)"
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; then
    return 0
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for v in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start 2>/dev/null || true
    done
    for _ in $(seq 1 30); do
      pg_isready -h 127.0.0.1 -p 5432 -q && return 0
      sleep 1
    done
  fi
  echo "warning: PostgreSQL is not reachable at $url" >&2
}

# Installs Debian's chromium and chromium-driver for the browser tests when missing.
ensure_browser() {
  if command -v chromedriver >/dev/null 2>&1 && [ -x /usr/bin/chromium ]; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "warning: chromium/chromium-driver missing and cannot be installed here; browser tests will skip" >&2
  fi
}

# Debian's nginx for the deployment test (tests/it/behind_nginx.rs runs the guide's config).
ensure_nginx() {
  if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing nginx"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
    # Only the binary is wanted: no service of its own on port 80.
    if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
  else
    echo "warning: nginx missing and cannot be installed here; the deployment test will fail" >&2
  fi
}

# Debian's redis-server for the shared rate limits' test (tests/it/shared_limits.rs).
ensure_redis() {
  if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing redis-server"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    if command -v service >/dev/null 2>&1; then service redis-server stop >/dev/null 2>&1 || true; fi
  else
    echo "warning: redis-server missing and cannot be installed here; its test will fail" >&2
  fi
}

# axe-core (npm) for the accessibility checks of the hosted pages, under target/ (the tests
# read target/axe/node_modules/axe-core/axe.min.js, or PAYLINK_AXE_JS).
ensure_axe() {
  local js=target/axe/node_modules/axe-core/axe.min.js
  if [ -f "$js" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "== installing npm"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
      echo "warning: npm missing; the accessibility checks will skip" >&2
      return 0
    fi
  fi
  echo "== installing axe-core"
  mkdir -p target/axe
  npm install --silent --no-audit --no-fund --prefix target/axe axe-core@4 >/dev/null
}

# localstripe (PyPI, pinned) for the Stripe tests (tests/it/stripe_peer.rs starts
# scripts/localstripe/localstripe_plus.py with target/localstripe-venv/bin/python, or
# PAYLINK_TEST_LOCALSTRIPE_PYTHON).
ensure_localstripe() {
  local venv=target/localstripe-venv version=1.15.10
  if [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('localstripe') != '$version')" 2>/dev/null; then
    return 0
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "warning: python3 missing; the Stripe tests will fail" >&2
    return 0
  fi
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "== installing python3-venv"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    else
      echo "warning: python3 -m venv fails and python3-venv cannot be installed here; the Stripe tests will fail" >&2
      return 0
    fi
  fi
  echo "== installing localstripe $version"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "localstripe==$version"
}

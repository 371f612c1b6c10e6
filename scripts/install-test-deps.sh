#!/usr/bin/env bash
# Installs what the end-to-end suite (tests/e2e) needs into a project
# virtualenv at <repo>/.venv: pytest, requests and the real, unmodified
# third-party Mesos clients the suite drives (pymesos, mesoshttp, avmesos-cli).
#
# Idempotent: a second run only re-checks the imports (about a second).
# Needs Python 3.8-3.11 (avmesos-cli uses `import imp`) and PyPI.
#
# Usage: scripts/install-test-deps.sh [--force]
#   --force   delete and recreate the virtualenv
# Env:   PYTHON=/path/to/python3.11   interpreter for the venv (default: python3)
#        CORRAL_VENV=/path            venv location (default: <repo>/.venv)
#
# pymesos 0.3.15 depends on http-parser 0.9.0, whose Cython-generated C no
# longer builds on Python 3.11. Workaround (reference/mesos-v1-api.md §7,
# "(b)"): pymesos is installed with --no-deps and the pure-Python files of
# http_parser are copied from the http-parser sdist into site-packages, so
# pymesos uses the http_parser.pyparser fallback. A minimal dist-info is
# written so that pip knows the distribution is there (pip check, uninstall).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CORRAL_VENV:-$REPO/.venv}"
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

START=$(date +%s)
log() { printf '[install-test-deps] %s\n' "$*"; }
die() { printf '[install-test-deps] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- system packages ---------------------------------------------------------
# busybox-static: the test images of image-based containers (crates/containerizer/tests/
# image.rs, tests/e2e/test_image_containers.py) are built from a static busybox.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    && ! dpkg -s busybox-static >/dev/null 2>&1; then
  log "installing busybox-static (test images)"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }; } \
    || log "WARNING: cannot install busybox-static; the image tests will skip"
fi

# ---- pinned versions ---------------------------------------------------------
# Build tools, used with --no-build-isolation for the sdist-only packages
# (pymesos, docopt) so that no unpinned setuptools is fetched.
BUILD_REQS=(
  "setuptools==75.8.0"
  "wheel==0.45.1"
)
# Resolved normally, but every package of the closure is pinned.
REQS=(
  "pytest==9.2.0" "iniconfig==2.3.1" "packaging==26.3" "pluggy==1.7.0" "Pygments==2.21.0"
  "requests==2.34.2" "urllib3==2.8.0" "certifi==2026.10.18" "idna==3.20" "charset-normalizer==3.5.2"
  "mesoshttp==0.4.2" "kazoo==2.11.0" "PyJWT==2.15.1" "cryptography==50.0.2" "cffi==2.1.1" "pycparser==3.12"
  "addict==2.4.0" "six==1.17.0"
  # avmesos-cli's runtime imports (its declared deps also pull PyInstaller,
  # tox, isort, ... which it never imports; it is installed with --no-deps).
  "docopt==0.6.2" "toml==0.10.2" "tenacity==9.2.1" "ujson==6.1.0"
)
# Installed with --no-deps (see header).
NODEPS_REQS=(
  "pymesos==0.3.15"
  "avmesos-cli==1.0.0"
)
HTTP_PARSER_VERSION="0.9.0"
HTTP_PARSER_FILES=(__init__ http pyparser reader util _socketio)

# The stamp changes whenever this script's pins change.
STAMP_FILE="$VENV/.corral-test-deps.stamp"
STAMP="$(printf '%s\n' "${BUILD_REQS[@]}" "${REQS[@]}" "${NODEPS_REQS[@]}" \
  "http-parser==$HTTP_PARSER_VERSION" "${HTTP_PARSER_FILES[@]}" | sha256sum | cut -c1-16)"

# ---- ZooKeeper (scripts/zk-ensemble.sh, crates/store/tests/zk.rs, tests/e2e) ----
# The HA/registry tests run real ZooKeeper servers from the Debian package's jars with a
# headless JRE. Installed when root and missing; otherwise those tests skip with the reason.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${CORRAL_SKIP_ZOOKEEPER:-}" ]; then
  ZK_PKGS=()
  for pkg in zookeeper default-jre-headless; do
    dpkg -s "$pkg" >/dev/null 2>&1 || ZK_PKGS+=("$pkg")
  done
  if [ ${#ZK_PKGS[@]} -gt 0 ]; then
    log "installing Debian packages for the ZooKeeper tests: ${ZK_PKGS[*]}"
    apt-get update -qq || log "apt-get update failed; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${ZK_PKGS[@]}" >/dev/null \
      || die "apt-get install ${ZK_PKGS[*]} failed"
  fi
  [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1 \
    || die "ZooKeeper jars or java missing after install"
fi

# ---- Docker (tests/e2e/test_docker.py) ----------------------------------------
# The Docker e2e tests run a private dockerd (scripts/docker-engine.sh, which also installs
# these itself) with a local busybox-static image. Installed here when root, skipped
# otherwise (those tests then skip with the reason). Idempotent: only missing packages.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${CORRAL_SKIP_DOCKER:-}" ]; then
  DOCKER_PKGS=()
  for pkg in docker.io busybox-static; do
    dpkg -s "$pkg" >/dev/null 2>&1 || DOCKER_PKGS+=("$pkg")
  done
  if [ ${#DOCKER_PKGS[@]} -gt 0 ]; then
    log "installing Debian packages for the Docker tests: ${DOCKER_PKGS[*]}"
    apt-get update -qq || log "apt-get update failed; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${DOCKER_PKGS[@]}" >/dev/null \
      || die "apt-get install ${DOCKER_PKGS[*]} failed"
  fi
fi

# ---- network namespaces (tests/e2e/test_partitions.py, test_ha.py M4) ----------
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  NET_PKGS=()
  for pkg in iproute2 iptables; do
    dpkg -s "$pkg" >/dev/null 2>&1 || NET_PKGS+=("$pkg")
  done
  if [ ${#NET_PKGS[@]} -gt 0 ]; then
    log "installing Debian packages for the partition tests: ${NET_PKGS[*]}"
    apt-get update -qq || log "apt-get update failed; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${NET_PKGS[@]}" >/dev/null \
      || die "apt-get install ${NET_PKGS[*]} failed"
  fi
fi

# ---- verification (also the fast path of a second run) -----------------------
verify() {
  local py="$VENV/bin/python" cfg out
  [ -x "$py" ] || return 1
  "$py" - <<'EOF' || return 1
import importlib.metadata as md
import pymesos, mesoshttp, avmesos.cli, pytest, requests, kazoo  # noqa: F401
from pymesos import MesosSchedulerDriver, MesosExecutorDriver  # noqa: F401
from mesoshttp.client import MesosClient  # noqa: F401
from http_parser.http import HttpParser
assert HttpParser.__module__ == "http_parser.pyparser", HttpParser.__module__
for dist in ("pymesos", "mesoshttp", "avmesos-cli", "http-parser", "pytest", "requests", "kazoo"):
    print("    %-12s %s" % (dist, md.version(dist)))
EOF
  # avmesos-cli refuses to run at all (even --help) without a config file.
  cfg="$(mktemp)"
  printf '[master]\n  address = "127.0.0.1:5050"\n' >"$cfg"
  if ! out="$(MESOS_CLI_CONFIG="$cfg" timeout 60 "$py" -m avmesos.cli.mesos-cli --help 2>&1)"; then
    rm -f "$cfg"; printf '%s\n' "$out" >&2; return 1
  fi
  rm -f "$cfg"
  grep -q 'Usage:' <<<"$out" || { printf '%s\n' "$out" >&2; return 1; }
  grep -q 'framework' <<<"$out" || { printf '%s\n' "$out" >&2; return 1; }
  echo "    avmesos-cli: 'python -m avmesos.cli.mesos-cli --help' runs"
}

if [ "$FORCE" = 0 ] && [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP" ]; then
  log "virtualenv $VENV is up to date (stamp $STAMP); verifying imports"
  if verify; then
    log "nothing to do ($(( $(date +%s) - START ))s)"
    exit 0
  fi
  log "verification failed; reinstalling"
fi

# ---- interpreter -------------------------------------------------------------
py_ok() { # usable if 3.8 <= version < 3.12
  "$1" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] < (3, 12) else 1)' 2>/dev/null
}
PY=""
for cand in ${PYTHON:-} python3.11 python3 /usr/bin/python3.11 /usr/bin/python3; do
  if command -v "$cand" >/dev/null 2>&1 && py_ok "$(command -v "$cand")"; then
    PY="$("$(command -v "$cand")" -c 'import sys; print(sys.executable)')"; break
  fi
done
[ -n "$PY" ] || die "no Python 3.8-3.11 found (avmesos-cli needs 'imp', removed in 3.12); set PYTHON="
log "python: $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"

if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  # Debian splits venv/ensurepip into python3-venv.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian package python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
      || die "apt-get install python3-venv failed"
  else
    die "$PY has no venv/ensurepip module (install python3-venv)"
  fi
fi

# ---- virtualenv --------------------------------------------------------------
if [ "$FORCE" = 1 ] && [ -d "$VENV" ]; then
  log "--force: removing $VENV"
  rm -rf "$VENV"
fi
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  log "existing $VENV is broken; recreating"
  rm -rf "$VENV"
fi
if [ -x "$VENV/bin/python" ] && ! py_ok "$VENV/bin/python"; then
  log "existing $VENV uses an unsupported Python; recreating"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PY" -m venv "$VENV" || die "python -m venv failed"
else
  log "reusing virtualenv $VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check --no-input)

installed() { # installed NAME==VERSION... -> true if all are installed at that version
  "$VPY" - "$@" <<'EOF'
import sys, importlib.metadata as md
for spec in sys.argv[1:]:
    name, _, ver = spec.partition("==")
    try:
        if md.version(name) != ver:
            sys.exit(1)
    except md.PackageNotFoundError:
        sys.exit(1)
EOF
}

if installed "${BUILD_REQS[@]}"; then
  log "build tools already installed"
else
  log "pip install ${BUILD_REQS[*]}"
  "${PIP[@]}" install -q "${BUILD_REQS[@]}" || die "pip install of build tools failed"
fi

if installed "${REQS[@]}"; then
  log "pinned requirements already installed"
else
  log "pip install (pinned): ${REQS[*]}"
  "${PIP[@]}" install -q --no-build-isolation "${REQS[@]}" || die "pip install of requirements failed"
fi

if installed "${NODEPS_REQS[@]}"; then
  log "pymesos and avmesos-cli already installed"
else
  log "pip install --no-deps ${NODEPS_REQS[*]}"
  "${PIP[@]}" install -q --no-deps --no-build-isolation "${NODEPS_REQS[@]}" \
    || die "pip install of pymesos/avmesos-cli failed"
fi

# ---- http_parser (pure-Python part of the http-parser sdist) -----------------
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if installed "http-parser==$HTTP_PARSER_VERSION" && [ -f "$SITE/http_parser/pyparser.py" ]; then
  log "http_parser $HTTP_PARSER_VERSION (pure Python) already vendored"
else
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  log "downloading the http-parser $HTTP_PARSER_VERSION sdist (not built; only its .py files are used)"
  "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
    -d "$TMP" "http-parser==$HTTP_PARSER_VERSION" || die "pip download http-parser failed"
  tar -xzf "$TMP"/http-parser-"$HTTP_PARSER_VERSION".tar.gz -C "$TMP" || die "cannot unpack the http-parser sdist"
  SRC="$TMP/http-parser-$HTTP_PARSER_VERSION/http_parser"
  rm -rf "$SITE/http_parser" "$SITE"/http_parser-*.dist-info
  mkdir -p "$SITE/http_parser"
  for f in "${HTTP_PARSER_FILES[@]}"; do
    cp "$SRC/$f.py" "$SITE/http_parser/$f.py" || die "missing $f.py in the http-parser sdist"
  done
  DI="$SITE/http_parser-$HTTP_PARSER_VERSION.dist-info"
  mkdir -p "$DI"
  printf 'Metadata-Version: 2.1\nName: http-parser\nVersion: %s\nSummary: pure-Python part of http-parser, vendored by scripts/install-test-deps.sh\n' \
    "$HTTP_PARSER_VERSION" >"$DI/METADATA"
  printf 'corral-install-test-deps\n' >"$DI/INSTALLER"
  printf 'http_parser\n' >"$DI/top_level.txt"
  {
    for f in "${HTTP_PARSER_FILES[@]}"; do printf 'http_parser/%s.py,,\n' "$f"; done
    for f in METADATA INSTALLER top_level.txt RECORD; do
      printf 'http_parser-%s.dist-info/%s,,\n' "$HTTP_PARSER_VERSION" "$f"
    done
  } >"$DI/RECORD"
  log "vendored http_parser/{$(IFS=,; echo "${HTTP_PARSER_FILES[*]}")}.py into $SITE"
fi

# ---- verify --------------------------------------------------------------------
log "verifying imports"
verify || die "verification failed"
printf '%s\n' "$STAMP" >"$STAMP_FILE"
log "done in $(( $(date +%s) - START ))s; run: $VENV/bin/pytest $REPO/tests/e2e -q"

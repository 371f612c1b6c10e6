#!/usr/bin/env bash
# Starts and stops a private Docker engine for the Docker tests (tests/e2e/test_docker.py).
#
#   scripts/docker-engine.sh start <dir>   install docker.io and busybox-static if missing
#                                          (apt-get, idempotent), start dockerd with its socket at
#                                          <dir>/docker.sock, wait until it answers, and build the
#                                          local test image corral-test/busybox:latest
#   scripts/docker-engine.sh stop <dir>    stop that dockerd (and its containers), delete its bridge
#   scripts/docker-engine.sh status <dir>  exit 0 if it answers
#
# The engine is the one DESIGN.md describes: vfs storage, no iptables, all state under <dir>
# (data/, exec/, docker.pid, dockerd.log, bridge), so it never touches a system engine. Its
# default bridge network (Docker's BRIDGE) is a Linux bridge of its own, `corral-br<N>` with
# the private subnet 10.213.<N>.0/24: N is the first free slot (`ip link add` is the atomic
# claim, and a subnet already on the host is skipped), so that concurrent engines never share
# a bridge or a subnet. Published ports work without iptables: docker-proxy (the userland
# proxy) listens on the host port and forwards to the container's bridge address. User
# networks (`docker network create`) get their subnets from 10.214.<N>.0/24 (/28 each), so
# they do not clash between engines either. No registry is reachable: the test image is a
# busybox-static rootfs packed with `docker import`. Needs root. If dockerd cannot start, the reason (its log) is printed and
# the exit code is non-zero.
set -euo pipefail

log() { printf '[docker-engine] %s\n' "$*" >&2; }
die() { printf '[docker-engine] ERROR: %s\n' "$*" >&2; exit 1; }

IMAGE="corral-test/busybox:latest"
# Bumped when the image's content changes, so that an engine kept from an earlier run rebuilds it.
IMAGE_VERSION=2

[ $# -eq 2 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
CMD="$1"
mkdir -p "$2"
DIR="$(cd "$2" && pwd)"
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/docker.pid"

docker_cli() { docker --host "unix://$SOCK" "$@"; }

answers() { [ -S "$SOCK" ] && docker_cli version --format '{{.Server.Version}}' >/dev/null 2>&1; }

apt_install() { # apt_install PKG... (only the missing ones)
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "need root to apt-get install ${missing[*]}"
  log "apt-get install ${missing[*]}"
  apt-get update -qq || log "apt-get update failed; trying the install anyway"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

build_image() {
  local have
  have="$(docker_cli image inspect --format '{{index .Config.Labels "corral.image.version"}}' "$IMAGE" 2>/dev/null || true)"
  if [ "$have" = "$IMAGE_VERSION" ]; then
    log "image $IMAGE (version $IMAGE_VERSION) is there"
    return 0
  fi
  local busybox root
  busybox="$(command -v busybox || true)"
  [ -x /bin/busybox ] && busybox=/bin/busybox
  [ -n "$busybox" ] || die "busybox-static is installed but no busybox binary was found"
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/root"
  cp "$busybox" "$root/bin/busybox"
  # Every applet of this busybox (sh, sleep, cat, echo, nc, httpd, wget, ip, ...).
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  log "building $IMAGE from a busybox-static rootfs"
  tar -C "$root" -c . | docker_cli import \
    --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
    --change "LABEL corral.image.version=$IMAGE_VERSION" - "$IMAGE" >/dev/null \
    || { rm -rf "$root"; die "docker import failed"; }
  rm -rf "$root"
}

BRIDGE_FILE="$DIR/bridge"

# claim_bridge: prints the name of a fresh bridge (recorded in $BRIDGE_FILE) with its gateway
# address 10.213.<N>.1/24, or reuses the one recorded for this <dir>.
claim_bridge() {
  local name n
  if [ -f "$BRIDGE_FILE" ]; then
    name="$(cat "$BRIDGE_FILE")"
    if ip link show "$name" >/dev/null 2>&1; then
      echo "$name"
      return 0
    fi
    rm -f "$BRIDGE_FILE"
  fi
  for n in $(seq 0 254); do
    name="corral-br$n"
    # Another engine (or something else on the host) uses this subnet: next slot.
    if ip -4 -o addr show | grep -q " 10\.213\.$n\."; then
      continue
    fi
    ip link add "$name" type bridge 2>/dev/null || continue
    if ! ip addr add "10.213.$n.1/24" dev "$name" 2>/dev/null || ! ip link set "$name" up; then
      ip link del "$name" 2>/dev/null || true
      continue
    fi
    echo "$name" >"$BRIDGE_FILE"
    echo "$name"
    return 0
  done
  die "no free corral-br<N> bridge / 10.213.<N>.0/24 subnet"
}

release_bridge() {
  [ -f "$BRIDGE_FILE" ] || return 0
  local name
  name="$(cat "$BRIDGE_FILE")"
  case "$name" in
    corral-br*) ip link del "$name" 2>/dev/null || true ;;
  esac
  rm -f "$BRIDGE_FILE"
}

start() {
  if answers; then
    log "dockerd at $SOCK already answers"
    build_image
    echo "$SOCK"
    return 0
  fi
  apt_install docker.io busybox-static iproute2
  command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
  command -v docker >/dev/null || die "the docker CLI not found after installing docker.io"
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "dockerd $(cat "$PIDFILE") runs but does not answer; stopping it"
    stop
  fi
  rm -f "$SOCK" "$PIDFILE"
  mkdir -p "$DIR/data" "$DIR/exec"
  local bridge
  bridge="$(claim_bridge)"
  log "starting dockerd on bridge $bridge (log: $DIR/dockerd.log)"
  # A session of its own, so that the caller's signals (Ctrl-C of a test run) do not reach it.
  setsid dockerd \
    --storage-driver=vfs --iptables=false --ip6tables=false --bridge="$bridge" \
    --default-address-pool "base=10.214.${bridge#corral-br}.0/24,size=28" \
    --host "unix://$SOCK" --data-root "$DIR/data" --exec-root "$DIR/exec" \
    --pidfile "$PIDFILE" >"$DIR/dockerd.log" 2>&1 </dev/null &
  local child=$!
  for _ in $(seq 1 300); do
    if answers; then
      log "dockerd $(docker_cli version --format '{{.Server.Version}}') answers at $SOCK"
      build_image
      echo "$SOCK"
      return 0
    fi
    if ! kill -0 "$child" 2>/dev/null; then
      log "dockerd exited; its log:"
      tail -n 30 "$DIR/dockerd.log" >&2
      release_bridge
      die "dockerd could not start (see above)"
    fi
    sleep 0.1
  done
  log "dockerd did not answer within 30 s; its log:"
  tail -n 30 "$DIR/dockerd.log" >&2
  die "dockerd did not answer"
}

stop() {
  [ -f "$PIDFILE" ] || { log "no $PIDFILE; nothing to stop"; release_bridge; return 0; }
  local pid
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    if answers; then
      docker_cli ps -aq | xargs -r docker_cli rm -f >/dev/null 2>&1 || true
      # User networks are host bridges that dockerd leaves behind when it stops.
      docker_cli network prune -f >/dev/null 2>&1 || true
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "dockerd $pid did not stop in 15 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDFILE" "$SOCK"
  # dockerd leaves mounts under its directories (e.g. exec/netns/default): unmount them, so
  # that <dir> can be removed.
  awk -v dir="$DIR/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
  release_bridge
  log "stopped"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) die "unknown command '$CMD' (start|stop|status)" ;;
esac

#!/usr/bin/env bash
# Runs a local ZooKeeper ensemble (or a standalone server) for tests, on 127.0.0.1, using the
# Debian `zookeeper` package (jars in /usr/share/java) and a JRE.
#
# Usage:
#   zk-ensemble.sh start   <dir> [n=3] [base_client_port=2181|auto]
#   zk-ensemble.sh stop    <dir>            stop every node (SIGTERM, then SIGKILL)
#   zk-ensemble.sh kill    <dir> <i>        SIGKILL node i (1-based)
#   zk-ensemble.sh stop-node <dir> <i>      SIGTERM node i
#   zk-ensemble.sh restart <dir> <i>        (re)start node i and wait until it serves
#   zk-ensemble.sh status  <dir>            print each node's `srvr` mode
#   zk-ensemble.sh connect-string <dir>     print 127.0.0.1:p1,127.0.0.1:p2,...
#
# n=1 runs a standalone server. Node i listens for clients on base+i-1, for peers on
# base+100+i and for leader election on base+200+i ("auto" picks a free base at random in
# 20000..31999).
# tickTime is 500 ms, so sessions of 1 s .. 30 s are allowed (4 s is typical in tests).
# Each node lives in <dir>/node<i>/ (zoo.cfg, data/myid, zk.log, zk.pid). `start` waits until
# every node answers `srvr` with a Mode (the ensemble has a leader) and prints the connect
# string as its last line. Env: ZK_START_TIMEOUT (s, default 60), ZK_JAVA_OPTS.
set -euo pipefail

JAVA="${JAVA:-java}"
ZK_JAR="${ZK_JAR:-/usr/share/java/zookeeper.jar}"
START_TIMEOUT="${ZK_START_TIMEOUT:-60}"

log() { printf '[zk-ensemble] %s\n' "$*" >&2; }
die() { printf '[zk-ensemble] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,18p' "$0" >&2; exit 2; }

# four-letter word $1 to port $2; prints the answer (empty on failure).
fourlw() {
  local out
  out="$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2 && printf '%s' '$1' >&3 && cat <&3" 2>/dev/null)" || true
  printf '%s' "$out"
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

load_env() {
  local dir="$1"
  [ -f "$dir/ensemble.env" ] || die "$dir/ensemble.env not found: no ensemble was started in $dir"
  # shellcheck disable=SC1091
  . "$dir/ensemble.env"
}

client_port() { echo $((BASE + $1 - 1)); }
connect_string() {
  local i s=""
  for ((i = 1; i <= N; i++)); do s+="${s:+,}127.0.0.1:$(client_port "$i")"; done
  echo "$s"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_config() {
  local dir="$1" i="$2" node="$1/node$2" j
  mkdir -p "$node/data"
  echo "$i" >"$node/data/myid"
  {
    echo "tickTime=500"
    echo "initLimit=20"
    echo "syncLimit=10"
    echo "dataDir=$node/data"
    echo "clientPort=$(client_port "$i")"
    echo "clientPortAddress=127.0.0.1"
    echo "maxClientCnxns=0"
    echo "minSessionTimeout=1000"
    echo "maxSessionTimeout=30000"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=*"
    echo "autopurge.purgeInterval=0"
    if [ "$N" -gt 1 ]; then
      for ((j = 1; j <= N; j++)); do
        echo "server.$j=127.0.0.1:$((BASE + 100 + j)):$((BASE + 200 + j))"
      done
    fi
  } >"$node/zoo.cfg"
}

start_node() {
  local dir="$1" i="$2" node="$1/node$2"
  if pid_alive "$node/zk.pid"; then
    log "node $i already running (pid $(cat "$node/zk.pid"))"
    return 0
  fi
  [ -f "$node/zoo.cfg" ] || write_config "$dir" "$i"
  # shellcheck disable=SC2086
  setsid "$JAVA" -Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 ${ZK_JAVA_OPTS:-} \
    -Dzookeeper.4lw.commands.whitelist='*' -Dzookeeper.admin.enableServer=false \
    -Dzookeeper.jmx.log4j.disable=true \
    -cp "$ZK_JAR:/usr/share/java/*" org.apache.zookeeper.server.quorum.QuorumPeerMain \
    "$node/zoo.cfg" >>"$node/zk.log" 2>&1 </dev/null &
  echo $! >"$node/zk.pid"
  log "node $i started (pid $!, client port $(client_port "$i"))"
}

# Waits until node $2 serves (srvr reports a Mode).
wait_node() {
  local dir="$1" i="$2" deadline=$((SECONDS + START_TIMEOUT)) port
  port="$(client_port "$i")"
  while ((SECONDS < deadline)); do
    if fourlw srvr "$port" | grep -q '^Mode:'; then return 0; fi
    pid_alive "$dir/node$i/zk.pid" || { tail -n 30 "$dir/node$i/zk.log" >&2; die "node $i exited"; }
    sleep 0.3
  done
  tail -n 30 "$dir/node$i/zk.log" >&2
  die "node $i (port $port) not serving after ${START_TIMEOUT}s"
}

stop_node() { # stop_node <dir> <i> <signal>
  local pidfile="$1/node$2/zk.pid" pid k
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid="$(cat "$pidfile")"
  kill "-$3" "$pid" 2>/dev/null || true
  for ((k = 0; k < 50; k++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$pidfile"
  log "node $2 stopped (pid $pid, SIG$3)"
}

# A free base in 20000..31999 (below the ephemeral range), starting at a random slot. A base is
# also *claimed* (an atomic mkdir under $CLAIMS naming the ensemble's dir) until `stop`, so a
# killed node's port, free until its restart, is never handed to another ensemble: its client
# would silently reconnect to a stranger's server. A claim whose ensemble dir no longer exists is stale.
CLAIMS="${ZK_PORT_CLAIMS:-/tmp/corral-zk-port-claims}"
claim_base() {
  local base="$1" owner
  mkdir -p "$CLAIMS"
  if ! mkdir "$CLAIMS/$base" 2>/dev/null; then
    owner="$(cat "$CLAIMS/$base/owner" 2>/dev/null || true)"
    [ -n "$owner" ] && [ -d "$owner" ] && return 1
    [ -z "$owner" ] && [ -n "$(find "$CLAIMS/$base" -maxdepth 0 -mmin -1 2>/dev/null)" ] && return 1
    rm -rf "$CLAIMS/$base"
    mkdir "$CLAIMS/$base" 2>/dev/null || return 1
  fi
  echo "$dir" >"$CLAIMS/$base/owner"
}
release_base() {
  [ "$(cat "$CLAIMS/$1/owner" 2>/dev/null)" = "$dir" ] && rm -rf "$CLAIMS/$1"
  return 0
}
pick_base() {
  local base p ok k slots=40 start=$((RANDOM % 40))
  for ((k = 0; k < slots; k++)); do
    base=$((20000 + ((start + k) % slots) * 300))
    ok=1
    for ((p = 0; p < N; p++)); do port_busy $((base + p)) && { ok=0; break; }; done
    for ((p = 1; p <= N && ok; p++)); do
      port_busy $((base + 100 + p)) && ok=0
      port_busy $((base + 200 + p)) && ok=0
    done
    [ "$ok" = 1 ] && claim_base "$base" && { echo "$base"; return 0; }
  done
  die "no free port range found"
}

cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || usage
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

case "$cmd" in
  start)
    command -v "$JAVA" >/dev/null 2>&1 || die "java not found (apt-get install default-jre-headless)"
    [ -f "$ZK_JAR" ] || die "$ZK_JAR not found (apt-get install zookeeper)"
    if [ -f "$dir/ensemble.env" ]; then
      load_env "$dir"
    else
      N="${3:-3}"; BASE="${4:-2181}"
      [[ "$N" =~ ^[1-9]$ ]] || die "n must be 1..9, got '$N'"
      [ "$BASE" = auto ] && BASE="$(pick_base)"
      [[ "$BASE" =~ ^[0-9]+$ ]] || die "bad base port '$BASE'"
      printf 'N=%s\nBASE=%s\n' "$N" "$BASE" >"$dir/ensemble.env"
    fi
    for ((i = 1; i <= N; i++)); do start_node "$dir" "$i"; done
    for ((i = 1; i <= N; i++)); do wait_node "$dir" "$i"; done
    connect_string >"$dir/connect_string"
    log "ensemble of $N serving"
    connect_string
    ;;
  stop)
    [ -f "$dir/ensemble.env" ] || exit 0
    load_env "$dir"
    for ((i = 1; i <= N; i++)); do stop_node "$dir" "$i" TERM; done
    release_base "$BASE"
    ;;
  kill|stop-node|restart)
    i="${3:-}"; load_env "$dir"
    [[ "$i" =~ ^[0-9]+$ ]] && ((i >= 1 && i <= N)) || die "node must be 1..$N"
    case "$cmd" in
      kill) stop_node "$dir" "$i" KILL ;;
      stop-node) stop_node "$dir" "$i" TERM ;;
      restart) stop_node "$dir" "$i" TERM; start_node "$dir" "$i"; wait_node "$dir" "$i" ;;
    esac
    ;;
  status)
    load_env "$dir"
    for ((i = 1; i <= N; i++)); do
      mode="$(fourlw srvr "$(client_port "$i")" | sed -n 's/^Mode: //p')"
      echo "node$i 127.0.0.1:$(client_port "$i") ${mode:-down}"
    done
    ;;
  connect-string) load_env "$dir"; connect_string ;;
  *) usage ;;
esac

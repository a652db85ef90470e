#!/usr/bin/env bash
# A local three-node RabbitMQ cluster for the cluster tests, beside the default broker (rabbit@…
# on 5672, never touched): nodes txbox-c1..c3@localhost, AMQP on 127.0.0.1:5681-5683, Erlang
# distribution on 25681-25683, everything under /tmp/txbox-rabbit-cluster/<node>.
#
#   cluster.sh start          start the three nodes and join c2, c3 to c1 (no-op when up)
#   cluster.sh start-node N   start node N (1-3) again; it rejoins the cluster by itself
#   cluster.sh kill-node N    SIGKILL node N's Erlang VM (a node loss, no clean shutdown)
#   cluster.sh stop           stop the three nodes and remove their data
#   cluster.sh status         which nodes answer, and the cluster as c1 (or any running node) sees it
#   cluster.sh urls           the AMQP URLs, comma-separated (TXBOX_TEST_CLUSTER_URLS)
#
# The nodes run as the same OS user as the default node (Debian's wrappers switch to `rabbitmq`
# when run as root), so they share its Erlang cookie, which the CLI tools need to talk to them.
set -euo pipefail

BASE=${TXBOX_CLUSTER_DIR:-/tmp/txbox-rabbit-cluster}
NODES=(1 2 3)

log() { printf '[cluster] %s\n' "$*" >&2; }

node_name() { printf 'txbox-c%s@localhost' "$1"; }
amqp_port() { printf '%s' $((5680 + $1)); }
dist_port() { printf '%s' $((25680 + $1)); }
node_dir() { printf '%s/txbox-c%s' "$BASE" "$1"; }

check_index() {
  [[ "${1:-}" =~ ^[123]$ ]] || {
    log "node index must be 1, 2 or 3 (got '${1:-}')"
    exit 2
  }
}

ctl() {
  local n=$1
  shift
  rabbitmqctl -q -n "$(node_name "$n")" "$@"
}

node_up() { rabbitmq-diagnostics -q -n "$(node_name "$1")" ping >/dev/null 2>&1; }

# The node's files: its config (own listener, no management, guest allowed over 127.0.0.1 only
# because the listener is bound there), an enabled-plugins file with just the consistent-hash
# exchange (partitioned groups need it on every node), and the data and log directories.
prepare_node() {
  local n=$1 dir
  dir=$(node_dir "$n")
  mkdir -p "$dir/mnesia" "$dir/log"
  cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.local = 127.0.0.1:$(amqp_port "$n")
loopback_users = none
CONF
  printf '[rabbitmq_consistent_hash_exchange].\n' >"$dir/enabled_plugins"
  # At-least-once dead-lettering (a quorum group's delay queues): after a node loss RabbitMQ 3.10's
  # dead-letter worker can wait for confirms that never come from the target queue's old leader,
  # and only resends after this timeout (default 3 minutes); retries would stall that long.
  cat >"$dir/advanced.config" <<CONF
[{rabbit, [{dead_letter_worker_publisher_confirm_timeout, 10000}]}].
CONF
  # The server runs as the rabbitmq user, which must own what it writes.
  if [[ $(id -u) == 0 ]] && id -u rabbitmq >/dev/null 2>&1; then chown -R rabbitmq:rabbitmq "$BASE"; fi
}

start_server() {
  local n=$1 dir
  dir=$(node_dir "$n")
  prepare_node "$n"
  log "starting $(node_name "$n") (AMQP $(amqp_port "$n"))"
  RABBITMQ_NODENAME=$(node_name "$n") \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT=$(amqp_port "$n") \
    RABBITMQ_DIST_PORT=$(dist_port "$n") \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" \
    RABBITMQ_PID_FILE="$dir/pid" \
    rabbitmq-server -detached >/dev/null 2>&1
}

wait_started() {
  local n=$1
  for ((i = 0; i < 120; i++)); do
    if node_up "$n"; then
      ctl "$n" await_startup --timeout 120 >/dev/null
      return 0
    fi
    sleep 1
  done
  log "$(node_name "$n") did not answer within 120s; see $(node_dir "$n")/log"
  return 1
}

# True when node n's running cluster includes all three nodes.
clustered() {
  local status
  status=$(ctl "$1" cluster_status --formatter json 2>/dev/null) || return 1
  for m in "${NODES[@]}"; do
    node_json_has "$status" "$(node_name "$m")" || return 1
  done
}

node_json_has() { grep -q "\"running_nodes\":\[[^]]*\"$2\"" <<<"$1"; }

start_node() {
  local n=$1
  if node_up "$n"; then return 0; fi
  start_server "$n"
  wait_started "$n"
}

cmd_start() {
  if clustered 1 2>/dev/null; then
    log 'cluster already up'
    return 0
  fi
  for n in "${NODES[@]}"; do node_up "$n" || start_server "$n"; done
  for n in "${NODES[@]}"; do wait_started "$n"; done
  for n in 2 3; do
    if ! ctl "$n" cluster_status --formatter json | grep -q "\"disk_nodes\":\[[^]]*\"$(node_name 1)\""; then
      log "joining $(node_name "$n") to $(node_name 1)"
      # The CLI logs harmless errors about tracked-connection tables while the node is stopped.
      {
        ctl "$n" stop_app && ctl "$n" join_cluster "$(node_name 1)" && ctl "$n" start_app
      } >"$(node_dir "$n")/log/join.out" 2>&1 || {
        cat "$(node_dir "$n")/log/join.out" >&2
        return 1
      }
    fi
  done
  for ((i = 0; i < 60; i++)); do
    if clustered 1; then
      log "cluster up: $(cmd_urls)"
      return 0
    fi
    sleep 1
  done
  log 'the three nodes did not form one cluster within 60s'
  return 1
}

pid_of() {
  local pidfile
  pidfile="$(node_dir "$1")/pid"
  [[ -s $pidfile ]] && cat "$pidfile"
}

cmd_kill_node() {
  local n=$1 pid
  pid=$(pid_of "$n") || true
  if [[ -z ${pid:-} ]] || ! kill -0 "$pid" 2>/dev/null; then
    log "$(node_name "$n") is not running"
    return 1
  fi
  log "SIGKILL $(node_name "$n") (pid $pid)"
  kill -KILL "$pid"
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

cmd_stop() {
  for n in "${NODES[@]}"; do
    if node_up "$n"; then
      log "stopping $(node_name "$n")"
      ctl "$n" stop >/dev/null 2>&1 || true
    fi
    # A node that did not stop (or was killed and left its pid file) must not outlive the data.
    local pid
    pid=$(pid_of "$n") || true
    if [[ -n ${pid:-} ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$BASE"
  log 'cluster stopped'
}

cmd_status() {
  local any=
  for n in "${NODES[@]}"; do
    if node_up "$n"; then
      echo "$(node_name "$n") up (AMQP 127.0.0.1:$(amqp_port "$n"))"
      any=${any:-$n}
    else
      echo "$(node_name "$n") down"
    fi
  done
  if [[ -n $any ]]; then ctl "$any" cluster_status; fi
}

cmd_urls() {
  local urls=()
  for n in "${NODES[@]}"; do urls+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")"); done
  (
    IFS=,
    echo "${urls[*]}"
  )
}

case "${1:-}" in
start) cmd_start ;;
start-node)
  check_index "${2:-}"
  start_node "$2"
  ;;
kill-node)
  check_index "${2:-}"
  cmd_kill_node "$2"
  ;;
stop) cmd_stop ;;
status) cmd_status ;;
urls) cmd_urls ;;
*)
  sed -n '2,13p' "$0" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# The cellular network lab (docs/lab.md, "Topology"): network namespaces for a device behind a
# carrier-grade NAT on an emulated radio link (cellrtc-linkem), an "internet" bridge with the
# server, a TURN server (coturn) and a viewer behind its own NAT. Root only. Everything lives in
# namespaces named P-<node> (P = $CELLRTC_LAB, default "cellrtc") and under /run/cellrtc-lab/P/;
# the root namespace's interfaces, routes and nftables rules are never touched.
#
#   scripts/lab/lab.sh up [--profile NAME] [--symmetric] [--block-udp]
#   scripts/lab/lab.sh down
#   scripts/lab/lab.sh status
#   scripts/lab/lab.sh exec NODE CMD...      NODE: dev cgnat inet srv turn vnat viewer
#   scripts/lab/lab.sh profile NAME          restarts the radio link with another profile
#
# up: builds the lab (or does nothing if the same lab already runs; a half-built or different
# one is torn down first). --profile: tools/linkem/profiles/NAME.toml or a .toml file (default
# hspa). --symmetric: the carrier NAT maps every destination to a new random port (address-and-
# port-dependent mapping) instead of keeping the source port. --block-udp: the carrier NAT drops
# every UDP packet from the device (only TCP/TLS paths work).
# down: stops every process of the lab and deletes its namespaces and state, even after a crash.
# Environment: CELLRTC_LAB (prefix), CELLRTC_LINKEM (the link emulator binary; default: the
# build tree's, release before dev), CELLRTC_LAB_SEED (the link emulator's random seed).
set -euo pipefail
# ip, nft, sysctl and conntrack live in sbin, which a non-root PATH (sudo -E, ctest) may lack.
export PATH="$PATH:/usr/sbin:/sbin"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=${CELLRTC_LAB:-cellrtc}
state_base=/run/cellrtc-lab
state=$state_base/$prefix
nodes=(dev cgnat inet srv turn vnat viewer)
default_profile=hspa

# The addresses of the contract (docs/lab.md).
radio_dev=100.64.0.2
radio_cgnat=100.64.0.1
inet_gateway=203.0.113.1
cgnat_wan=203.0.113.2
vnat_wan=203.0.113.3
srv_address=203.0.113.10
turn_address=203.0.113.20
vnat_lan=192.168.50.1
viewer_address=192.168.50.2
turn_realm=cellrtc.lab

die() {
  echo "lab: $*" >&2
  exit 1
}
say() { echo "lab: $*"; }

usage() {
  sed -n '7,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

[[ $prefix =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]] ||
  die "CELLRTC_LAB must be letters, digits, '_' or '-' (at most 32), not '$prefix'"

ns() { echo "$prefix-$1"; }
# Runs a command in a node's namespace.
in_ns() {
  local node=$1
  shift
  ip netns exec "$(ns "$node")" "$@"
}
ns_exists() { [[ -e /run/netns/$(ns "$1") ]]; }
# The namespaces of this prefix that exist now (exact node names only: another prefix such as
# "$prefix-x" never matches).
existing_namespaces() {
  local name node
  while read -r name _; do
    for node in "${nodes[@]}"; do
      if [[ $name == "$(ns "$node")" ]]; then echo "$name"; fi
    done
  done < <(ip netns list 2>/dev/null || true)
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, TUN devices, nftables)"
}

# One lab command at a time on this machine (per prefix would leave a lock file behind).
lock() {
  # Children started while it is held close fd 9 (9<&-): they must not keep the lock.
  mkdir -p "$state_base"
  exec 9<"$state_base"
  flock -w 120 9 || die "another lab.sh still runs after 120 s"
}

linkem_binary() {
  if [[ -n ${CELLRTC_LINKEM:-} ]]; then
    [[ -x $CELLRTC_LINKEM ]] || die "CELLRTC_LINKEM=$CELLRTC_LINKEM is not an executable"
    echo "$CELLRTC_LINKEM"
    return
  fi
  local preset
  for preset in release dev; do
    if [[ -x $root/build/$preset/tools/linkem/cellrtc-linkem ]]; then
      echo "$root/build/$preset/tools/linkem/cellrtc-linkem"
      return
    fi
  done
  die "no cellrtc-linkem: build it (cmake --build build/dev --target cellrtc-linkem) or set CELLRTC_LINKEM"
}

profile_file() {
  local name=$1
  if [[ $name == */* || $name == *.toml ]]; then
    [[ -f $name ]] || die "no profile file $name"
    (cd "$(dirname "$name")" && echo "$PWD/$(basename "$name")")
    return
  fi
  [[ $name =~ ^[a-z0-9-]+$ ]] || die "bad profile name '$name'"
  local file=$root/tools/linkem/profiles/$name.toml
  if [[ ! -f $file ]]; then
    local known
    known=$(find "$root/tools/linkem/profiles" -maxdepth 1 -name '*.toml' -printf '%f\n' 2>/dev/null |
      sed 's/\.toml$//' | sort | tr '\n' ' ')
    die "no profile '$name' (known: ${known:-none})"
  fi
  echo "$file"
}

# Whether pid $1 runs and its command line contains the argument $2 (guards against a reused
# pid).
pid_matches() {
  local pid=$1 needle=$2
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "$needle"
}

# SIGTERM to the given pids, up to $1 tenths of a second for them to go, then SIGKILL.
stop_pids() {
  local tenths=$1
  shift
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  local i pid alive
  for ((i = 0; i < tenths; i++)); do
    alive=0
    for pid in "$@"; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; fi
    done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
}

# The link emulator runs in the root namespace (it opens the TUNs inside the namespaces itself):
# found by its pidfile and, after a crash lost the pidfile, by its "--a P-dev:radio0" argument.
linkem_pids() {
  local needle
  needle="$(ns dev):radio0"
  local pid
  {
    if [[ -f $state/linkem.pid ]]; then
      pid=$(<"$state/linkem.pid")
      if pid_matches "$pid" "$needle"; then echo "$pid"; fi
    fi
    for pid in /proc/[0-9]*; do
      pid=${pid#/proc/}
      if pid_matches "$pid" "$needle"; then echo "$pid"; fi
    done
  } | sort -u
}

stop_linkem() {
  local pids
  mapfile -t pids < <(linkem_pids)
  # It writes its final counters on SIGTERM: a few seconds for that.
  stop_pids 50 "${pids[@]}"
  rm -f "$state/linkem.pid"
}

start_linkem() {
  local profile=$1 binary file
  binary=$(linkem_binary)
  file=$(profile_file "$profile")
  local args=(--a "$(ns dev):radio0" --b "$(ns cgnat):radio0" --profile "$file"
    --stats-file "$state/linkem-stats.json")
  if [[ -n ${CELLRTC_LAB_SEED:-} ]]; then args+=(--seed "$CELLRTC_LAB_SEED"); fi
  : >"$state/linkem.out"
  setsid "$binary" "${args[@]}" 9<&- </dev/null >>"$state/linkem.out" 2>>"$state/linkem.log" &
  local pid=$!
  echo "$pid" >"$state/linkem.pid"
  local i
  for ((i = 0; i < 100; i++)); do
    if grep -qx ready "$state/linkem.out"; then
      echo "$profile" >"$state/profile"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$state/linkem.log" >&2 || true
  if kill -0 "$pid" 2>/dev/null; then
    die "cellrtc-linkem did not print 'ready' within 10 s ($binary ${args[*]})"
  fi
  local status=0
  wait "$pid" || status=$?
  die "cellrtc-linkem exited with status $status before 'ready' ($binary ${args[*]})"
}

# Every process in the namespaces, then the link emulator, then the namespaces and the state.
teardown() {
  local name pids pid
  stop_linkem
  # coturn by its pidfile too: found even if its namespace lost its name.
  pid=$(cat "$state/coturn.pid" 2>/dev/null || true)
  if pid_matches "$pid" "$state/turnserver.conf"; then stop_pids 30 "$pid"; fi
  for name in $(existing_namespaces); do
    mapfile -t pids < <(ip netns pids "$name" 2>/dev/null || true)
    stop_pids 30 "${pids[@]}"
  done
  for name in $(existing_namespaces); do
    # Anything that slipped in meanwhile goes without a grace period.
    mapfile -t pids < <(ip netns pids "$name" 2>/dev/null || true)
    if ((${#pids[@]})); then kill -KILL "${pids[@]}" 2>/dev/null || true; fi
    ip netns del "$name" 2>/dev/null || true
  done
  rm -rf "$state"
  if [[ -n $(existing_namespaces) ]]; then
    die "namespaces left: $(existing_namespaces | tr '\n' ' ')"
  fi
}

set_sysctl() {
  local node=$1 key=$2 value=$3
  in_ns "$node" sysctl -q -w "$key=$value" >/dev/null
}

make_namespace() {
  local node=$1
  ip netns add "$(ns "$node")"
  ip -n "$(ns "$node")" link set lo up
  # IPv4 only, as the contract's addresses; no router solicitations or link-local noise.
  set_sysctl "$node" net.ipv6.conf.all.disable_ipv6 1
  set_sysctl "$node" net.ipv6.conf.default.disable_ipv6 1
  # Strict reverse-path filtering (a host default may be inherited) would drop packets that
  # arrive on the point-to-point radio link or through the NATs; interfaces made after this
  # take the default.
  set_sysctl "$node" net.ipv4.conf.all.rp_filter 0
  set_sysctl "$node" net.ipv4.conf.default.rp_filter 0
}

# A veth pair: $1 in node $2, its peer $3 in node $4.
make_veth() {
  ip -n "$(ns "$2")" link add "$1" type veth peer name "$3" netns "$(ns "$4")"
}

# A host on the internet bridge: eth-like interface $2 in node $1 with address $3.
attach_to_inet() {
  local node=$1 ifname=$2 address=$3
  make_veth "$ifname" "$node" "${node}0" inet
  ip -n "$(ns inet)" link set "${node}0" master br0 up
  ip -n "$(ns "$node")" addr add "$address/24" dev "$ifname"
  ip -n "$(ns "$node")" link set "$ifname" up
  ip -n "$(ns "$node")" route add default via "$inet_gateway"
}

carrier_nat_rules() {
  local symmetric=$1 block_udp=$2
  local mapping="masquerade"
  # Linux keeps the source port when it is free (endpoint-independent mapping in practice);
  # fully-random picks a new port per connection, i.e. per destination: address-and-port-
  # dependent mapping (RFC 4787 section 4.1), the "symmetric" NAT.
  if ((symmetric)); then mapping="masquerade fully-random"; fi
  local udp_rule=""
  if ((block_udp)); then udp_rule='iifname "radio0" meta l4proto udp counter drop'; fi
  in_ns cgnat nft -f - <<EOF
table ip cellrtc_lab {
  chain forward {
    type filter hook forward priority filter; policy accept;
    $udp_rule
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" counter $mapping
  }
}
EOF
}

viewer_nat_rules() {
  in_ns vnat nft -f - <<EOF
table ip cellrtc_lab {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" counter masquerade
  }
}
EOF
}

start_coturn() {
  local secret
  secret=$(openssl rand -hex 16)
  echo "$secret" >"$state/turn-secret"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=turn.$turn_realm" -addext "subjectAltName=DNS:turn.$turn_realm,IP:$turn_address" \
    -keyout "$state/turn-key.pem" -out "$state/turn-cert.pem" 2>/dev/null
  cat >"$state/turnserver.conf" <<EOF
# Generated by scripts/lab/lab.sh for the lab $prefix.
listening-ip=$turn_address
relay-ip=$turn_address
listening-port=3478
tls-listening-port=5349
realm=$turn_realm
server-name=turn.$turn_realm
use-auth-secret
static-auth-secret=$secret
cert=$state/turn-cert.pem
pkey=$state/turn-key.pem
fingerprint
no-cli
no-multicast-peers
log-file=$state/turnserver.log
simple-log
pidfile=$state/turnserver.pid
userdb=$state/turndb
EOF
  setsid ip netns exec "$(ns turn)" turnserver -c "$state/turnserver.conf" \
    9<&- </dev/null >>"$state/turnserver.out" 2>&1 &
  echo $! >"$state/coturn.pid"
  local i
  for ((i = 0; i < 100; i++)); do
    if coturn_answers; then return 0; fi
    kill -0 "$(<"$state/coturn.pid")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$state/turnserver.log" "$state/turnserver.out" >&2 2>/dev/null || true
  die "coturn did not answer on $turn_address:3478 (UDP) and :5349 (TLS) within 10 s"
}

# A STUN binding request over UDP from the server's namespace, and a TCP connection to the
# TLS port.
coturn_answers() {
  in_ns srv timeout 2 turnutils_stunclient -p 3478 "$turn_address" 2>/dev/null |
    grep -q "UDP reflexive addr: $srv_address" || return 1
  in_ns srv timeout 2 bash -c "exec 3<>/dev/tcp/$turn_address/5349" 2>/dev/null
}

build() {
  local profile=$1 symmetric=$2 block_udp=$3
  local node
  mkdir -p "$state"
  for node in "${nodes[@]}"; do make_namespace "$node"; done

  # The internet: one bridge.
  ip -n "$(ns inet)" link add br0 type bridge
  ip -n "$(ns inet)" addr add "$inet_gateway/24" dev br0
  ip -n "$(ns inet)" link set br0 up
  set_sysctl inet net.ipv4.ip_forward 1

  attach_to_inet srv eth0 "$srv_address"
  attach_to_inet turn eth0 "$turn_address"

  # The carrier: its radio side is a TUN whose other end is the link emulator.
  attach_to_inet cgnat wan0 "$cgnat_wan"
  ip -n "$(ns cgnat)" tuntap add dev radio0 mode tun
  ip -n "$(ns cgnat)" addr add "$radio_cgnat" peer "$radio_dev" dev radio0
  ip -n "$(ns cgnat)" link set radio0 up
  set_sysctl cgnat net.ipv4.ip_forward 1
  set_sysctl cgnat net.ipv4.conf.radio0.rp_filter 0
  carrier_nat_rules "$symmetric" "$block_udp"
  # Idle UDP mappings go after 30 s, also those that saw traffic both ways (the stream
  # timeout is 120 s by default): what carriers do, and what keepalives must beat.
  set_sysctl cgnat net.netfilter.nf_conntrack_udp_timeout 30
  set_sysctl cgnat net.netfilter.nf_conntrack_udp_timeout_stream 30

  # The device.
  ip -n "$(ns dev)" tuntap add dev radio0 mode tun
  ip -n "$(ns dev)" addr add "$radio_dev" peer "$radio_cgnat" dev radio0
  ip -n "$(ns dev)" link set radio0 up
  ip -n "$(ns dev)" route add default via "$radio_cgnat" dev radio0
  set_sysctl dev net.ipv4.conf.radio0.rp_filter 0

  # The viewer behind a home NAT.
  attach_to_inet vnat wan0 "$vnat_wan"
  make_veth lan0 vnat eth0 viewer
  ip -n "$(ns vnat)" addr add "$vnat_lan/24" dev lan0
  ip -n "$(ns vnat)" link set lan0 up
  set_sysctl vnat net.ipv4.ip_forward 1
  viewer_nat_rules
  ip -n "$(ns viewer)" addr add "$viewer_address/24" dev eth0
  ip -n "$(ns viewer)" link set eth0 up
  ip -n "$(ns viewer)" route add default via "$vnat_lan"

  start_coturn
  start_linkem "$profile"
  echo "profile=$profile symmetric=$symmetric block_udp=$block_udp" >"$state/options"
  touch "$state/complete"
}

# Whether the lab with exactly these options runs, complete, with its processes alive.
lab_running_as() {
  local options=$1 node pid
  [[ -f $state/complete && -f $state/options && $(<"$state/options") == "$options" ]] || return 1
  for node in "${nodes[@]}"; do ns_exists "$node" || return 1; done
  [[ -n $(linkem_pids) ]] || return 1
  pid=$(cat "$state/coturn.pid" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# A failed `up` leaves nothing half-built behind.
on_exit() {
  if ((building)); then
    building=0
    echo "lab: up failed; tearing down" >&2
    teardown || true
  fi
}

cmd_up() {
  local profile=$default_profile symmetric=0 block_udp=0
  while (($#)); do
    case "$1" in
      --profile)
        (($# >= 2)) || die "--profile needs a name"
        profile=$2
        shift 2
        ;;
      --profile=*)
        profile=${1#--profile=}
        shift
        ;;
      --symmetric)
        symmetric=1
        shift
        ;;
      --block-udp)
        block_udp=1
        shift
        ;;
      *) die "up: unknown option '$1' (usage: up [--profile NAME] [--symmetric] [--block-udp])" ;;
    esac
  done
  need_root
  # Checked before anything is built.
  profile_file "$profile" >/dev/null
  linkem_binary >/dev/null
  local tool
  for tool in ip nft turnserver turnutils_stunclient openssl setsid flock timeout; do
    command -v "$tool" >/dev/null || die "'$tool' is missing: run scripts/setup.sh"
  done
  lock
  local options="profile=$profile symmetric=$symmetric block_udp=$block_udp"
  if lab_running_as "$options"; then
    say "$prefix already up ($options)"
    return 0
  fi
  if [[ -n $(existing_namespaces) || -d $state ]]; then
    say "tearing down the existing lab $prefix first"
    teardown
  fi
  building=1
  trap on_exit EXIT
  build "$profile" "$symmetric" "$block_udp"
  building=0
  say "$prefix up ($options); state in $state"
}

cmd_down() {
  (($# == 0)) || die "down takes no arguments"
  need_root
  lock
  teardown
  say "$prefix down"
}

cmd_profile() {
  (($# == 1)) || die "usage: profile NAME"
  need_root
  profile_file "$1" >/dev/null
  lock
  [[ -f $state/complete ]] || die "the lab $prefix is not up"
  stop_linkem
  start_linkem "$1"
  local options
  options=$(<"$state/options")
  echo "profile=$1 ${options#* }" >"$state/options"
  say "$prefix radio link now runs profile $1"
}

cmd_exec() {
  (($# >= 2)) || die "usage: exec NODE CMD..."
  local node=$1
  shift
  local known=" ${nodes[*]} "
  [[ $known == *" $node "* ]] || die "no node '$node' (nodes:${known% })"
  ns_exists "$node" || die "the lab $prefix is not up (no namespace $(ns "$node"))"
  exec ip netns exec "$(ns "$node")" "$@"
}

cmd_status() {
  (($# == 0)) || die "status takes no arguments"
  local node
  echo "lab $prefix (state $state)"
  if [[ -f $state/complete ]]; then
    echo "  complete: $(<"$state/options")"
  elif [[ -d $state || -n $(existing_namespaces) ]]; then
    echo "  half-built or crashed: 'lab.sh down' or 'lab.sh up' cleans it"
  else
    echo "  down"
    return 0
  fi
  for node in "${nodes[@]}"; do
    if ns_exists "$node"; then
      echo "  $(ns "$node"):"
      in_ns "$node" ip -br -4 addr show | grep -v '^lo ' | sed 's/^/    /'
    else
      echo "  $(ns "$node"): missing"
    fi
  done
  local pids
  pids=$(linkem_pids | tr '\n' ' ')
  if [[ -n $pids ]]; then
    echo "  radio link: cellrtc-linkem pid ${pids% } profile $(cat "$state/profile" 2>/dev/null || echo '?')"
  else
    echo "  radio link: cellrtc-linkem NOT running"
  fi
  if [[ -s $state/linkem-stats.json ]]; then
    echo "    counters of its last stopped run ($state/linkem-stats.json):" \
      "$(tr -d '\n' <"$state/linkem-stats.json" | tr -s ' ')"
  fi
  local pid
  pid=$(cat "$state/coturn.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    if ns_exists srv && ns_exists turn && coturn_answers; then
      echo "  coturn: pid $pid answers on $turn_address:3478 (udp, tcp), :5349 (tls);" \
        "realm $turn_realm, secret in $state/turn-secret"
    else
      echo "  coturn: pid $pid runs but does not answer"
    fi
  else
    echo "  coturn: NOT running"
  fi
  if ns_exists cgnat; then
    echo "  carrier NAT mappings (conntrack):"
    in_ns cgnat conntrack -L 2>/dev/null | sed 's/^/    /' | head -n 20 || true
  fi
}

building=0
(($#)) || {
  usage
  exit 2
}
command=$1
shift
case "$command" in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  status) cmd_status "$@" ;;
  exec) cmd_exec "$@" ;;
  profile) cmd_profile "$@" ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# The main job: sets up a fresh Debian 12 machine (scripts/setup.sh), builds cellrtc-server and
# cellrtc-device, starts the server and a device streaming the test pattern to it, and prints the
# viewer URL. Ctrl-C (or SIGTERM) stops both cleanly.
#
#   scripts/run.sh                      http://127.0.0.1:8080/, media on UDP 8443
#   scripts/run.sh --port 9000 --udp-port 9443 --source v4l2:/dev/video0
#   scripts/run.sh --preset dev --no-setup   (reuse a build; what the tests do)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

preset=release
port=8080
udp_port=8443
source=testpattern:640x480
setup=1
usage() {
  sed -n '2,8s/^# \{0,1\}//p' "$0"
  echo "options: --preset P (release) --port N (8080) --udp-port N (8443) --source S (testpattern)"
  echo "         --no-setup (skip scripts/setup.sh)"
}
while (($#)); do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --udp-port) udp_port=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    --no-setup) setup=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

if ((setup)); then scripts/setup.sh; fi
echo "run: building cellrtc-server and cellrtc-device ($preset)"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target cellrtc-server cellrtc-device
bin="$root/build/$preset"

# One token for the demo device, fresh each run: the server accepts it, the device sends it.
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
url="http://127.0.0.1:$port"

server_pid=""
device_pid=""
# Children in their own process groups: Ctrl-C reaches this script alone, which then stops the
# device first (it ends its WHIP session) and the server after it.
set -m
stop() {
  trap - INT TERM EXIT
  [[ -n "$device_pid" ]] && kill -TERM "$device_pid" 2>/dev/null && wait "$device_pid" 2>/dev/null
  [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  echo "run: stopped"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

"$bin/server/cellrtc-server" --listen "127.0.0.1:$port" --udp-port "$udp_port" \
  --device "demo:$token" &
server_pid=$!
for _ in $(seq 1 100); do  # up to 10 s for the server to answer
  curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "run: cellrtc-server exited" >&2; exit 1; }
  sleep 0.1
done
curl -fsS -o /dev/null "$url/healthz" || { echo "run: cellrtc-server does not answer" >&2; exit 1; }

CELLRTC_TOKEN="$token" "$bin/device/cellrtc-device" --server "$url" --source "$source" &
device_pid=$!

echo
echo "run: viewer URL: $url/?device=demo"
echo "run: Ctrl-C stops the server and the device"
echo
wait -n "$server_pid" "$device_pid" || true
echo "run: a process ended; stopping" >&2
exit 1

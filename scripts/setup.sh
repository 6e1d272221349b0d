#!/usr/bin/env bash
# Installs exactly the Debian packages cellrtc's build, tests and demo need. Idempotent: it
# installs only what is missing, and does nothing when everything is there.
# No downloads besides Debian's packages (and, once the browser tests land, npm's lockfile).
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ ccache pkg-config
  # fuzzing (clang + libFuzzer runtime) and formatting
  clang libclang-rt-14-dev clang-format
  # embedded profile: 32-bit cross compiler with newlib's C++ library
  gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib binutils-arm-none-eabi
  # core dependencies
  libmbedtls-dev
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev
  # independent peers for interop tests: coturn (STUN/TURN), aioice/aiortc (ICE, WebRTC)
  coturn python3-aiortc
  # network namespaces for the lab
  iproute2
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"

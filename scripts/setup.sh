#!/usr/bin/env bash
# Installs exactly the Debian packages cellrtc's build, tests and demo need. Idempotent: it
# installs only what is missing, and does nothing when everything is there.
# No downloads besides Debian's packages and the npm packages pinned in package-lock.json (the
# browser tests' drivers; they use Debian's browsers and never download one).
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
  # device agent: JPEG encoding for the test-pattern camera, libcurl for WHIP
  libturbojpeg0-dev libcurl4-openssl-dev
  # server: Boost.Beast/Asio, OpenSSL for HTTPS, JSON, TOML configuration
  libboost-dev libssl-dev nlohmann-json3-dev libtomlplusplus-dev
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev libusrsctp-dev
  # independent peers for interop tests: coturn (STUN/TURN), aioice/aiortc (ICE, WebRTC),
  # openssl (s_server/s_client as DTLS peers)
  coturn python3-aiortc openssl
  # the cellular lab: namespaces, NAT (nftables, conntrack timeouts), iperf3 and ping to check
  # the link emulator, gnuplot for the benchmark plots; nginx as a reverse proxy in the
  # deployment tests
  iproute2 nftables conntrack iperf3 iputils-ping gnuplot-nox nginx-light
  # watching the lab's traffic inside its namespaces (docs/lab.md); sysctl for its settings
  tcpdump procps
  # scripts/run.sh waits for the server with curl
  curl
  # browser tests: real WebRTC peers, driven by playwright-core/puppeteer-core from package.json
  chromium firefox-esr nodejs npm
)

# A package is present when it is installed, or when an installed package provides it (NodeSource's
# nodejs provides and conflicts with npm: installing Debian's npm next to it would replace nodejs).
provided=$({ dpkg-query -W -f='${db:Status-Abbrev}|${Provides}\n' 2>/dev/null || true; } |
  sed -n 's/^ii *|//p' | tr ',' '\n' | sed -E 's/^ *//; s/ .*//' | sort -u)
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || grep -qxF "$p" <<<"$provided" || missing+=("$p")
done

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser tests' npm packages, exactly as package-lock.json pins them, into node_modules/
# (git-ignored): again only when missing or older than the lockfile.
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -d "$root/node_modules" || "$root/package-lock.json" -nt "$root/node_modules" ]]; then
  echo "setup: npm ci"
  (cd "$root" && npm ci --no-audit --no-fund)
  touch "$root/node_modules"
else
  echo "setup: node_modules up to date"
fi
echo "setup: done"

#!/usr/bin/env bash
# The Debian packages the tests run for real (a registry, Prometheus, a DNS server).
# Idempotent: installs only what is missing, so a warm machine spends no time here.
# The README's test command and .ci/run call this first; it needs root (or sudo) on Debian.
set -euo pipefail

PACKAGES=(
  docker-registry # a real OCI distribution registry for the jar image tests
  apache2-utils # htpasswd (bcrypt) for the registry's basic-auth test
  iproute2 # network namespaces for the mesh's hostile-LAN tests
  dnsmasq-base # a real DNS server (SRV records) for DNS discovery tests
  prometheus # a real Prometheus that scrapes a jar's /metrics
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "tests/system_packages.sh: not a Debian system; install these yourself: ${missing[*]}" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
echo "tests/system_packages.sh: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

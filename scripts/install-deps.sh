#!/bin/sh
# Installs, from Debian 12's apt, everything netsynth needs to build, test and benchmark.
# Run as root (or through sudo). Safe to run again. Open MPI (openmpi-bin,
# libopenmpi-dev) is optional: `make` builds with it where it finds mpicc (docs/mpi.md).
set -eu
export DEBIAN_FRONTEND=noninteractive
packages="build-essential clang pkg-config libpcap-dev libpng-dev zlib1g-dev libcmocka-dev
  libopenblas0-pthread libomp-dev tcpdump tshark wireshark-common tcpreplay iproute2 man-db groff-base
  chromium python3-numpy python3-sklearn openmpi-bin libopenmpi-dev libndpi-bin"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: run as root (sudo sh scripts/install-deps.sh)" >&2
    exit 1
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages >/dev/null
echo "install-deps.sh: installed $(echo $packages | wc -w) packages"

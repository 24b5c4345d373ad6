#!/bin/sh
# Installs, from Debian 12's apt, everything netsynth needs to build, test and benchmark.
# Run as root, or as a user sudo lets install (it asks sudo itself: a fresh Debian 12 image run
# as root often has no sudo at all). Safe to run again. Open MPI (openmpi-bin,
# libopenmpi-dev) is optional: `make` builds with it where it finds mpicc (docs/mpi.md).
set -eu
export DEBIAN_FRONTEND=noninteractive
packages="build-essential clang pkg-config libpcap-dev libpng-dev zlib1g-dev libcmocka-dev
  libopenblas0-pthread libomp-dev tcpdump tshark wireshark-common tcpreplay iproute2 man-db groff-base
  chromium python3-numpy python3-sklearn openmpi-bin libopenmpi-dev libndpi-bin"
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && exec sudo sh "$0" "$@"
    echo "install-deps.sh: run as root (apt-get needs it), or install sudo" >&2
    exit 1
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages >/dev/null
echo "install-deps.sh: installed $(echo $packages | wc -w) packages"

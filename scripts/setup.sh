#!/usr/bin/env bash
# Installs the system packages InstructKit builds against, when they are missing:
# OpenBLAS (matrix products), HDF5 (export), OpenSSL's libcrypto (SHA-256 of checkpoints and
# data; on macOS CryptoKit), pkg-config (to find them), and Open MPI
# (mpirun and libmpi, for data-parallel runs and their tests; the binary itself loads
# libmpi only when started by mpirun, see docs/distributed.md).
# Safe to run twice: it installs nothing when everything is present.
# Sourced by quickstart.sh and test.sh; may also be run on its own.
set -euo pipefail

need=()
pkg-config --version >/dev/null 2>&1 || need+=(pkg-config)
if ! pkg-config --exists openblas 2>/dev/null; then need+=(libopenblas-dev); fi
if ! pkg-config --exists hdf5 2>/dev/null; then need+=(libhdf5-dev); fi
if [ "$(uname)" != "Darwin" ] && ! pkg-config --exists libcrypto 2>/dev/null; then need+=(libssl-dev); fi
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
if ! pkg-config --exists ompi-c 2>/dev/null; then need+=(libopenmpi-dev); fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(uname)" = "Darwin" ]; then
    echo "setup: missing ${need[*]}; on macOS run: brew install openblas hdf5 pkg-config open-mpi" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${need[*]} and no apt-get here; install OpenBLAS, HDF5, OpenSSL (libcrypto), Open MPI and pkg-config with your package manager." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "setup: installing ${need[*]} (apt-get)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: no 'swift' on PATH. Install Swift 6 (swift.org) and run this again." >&2
  exit 1
fi

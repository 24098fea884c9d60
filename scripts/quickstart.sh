#!/usr/bin/env bash
# The main job, run on a fresh machine: install what is missing, build in release
# mode, and run it. Until the training quickstart lands, the main job is the
# kernel benchmark (`instruct bench ops`): it proves the build, BLAS and the
# tensor library work, and prints how close our matmul is to raw sgemm.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product instruct
.build/release/instruct bench ops "$@"

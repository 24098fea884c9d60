#!/usr/bin/env bash
# Runs InstructKit's whole test suite. Installs missing system packages first.
#
# Tests are built in release mode (-c release) with -enable-testing: numeric
# Swift in a debug build is 10-50x slower, and the gradient checks and tiny
# training runs would then dominate CI. The optimiser does not change any
# tested result (every kernel is deterministic), and assertions in tests are
# XCTest's, which release mode keeps.
# Extra arguments go to `swift test` (for example: --filter AutogradTests).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"

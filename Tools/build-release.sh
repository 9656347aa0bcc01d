#!/usr/bin/env bash
# Builds the release binary, .build/release/yidang: the one build that Tools/run.sh and the
# benchmark scripts share. The Swift runtime and Foundation are linked statically, so
# swift_retain/release are called directly rather than through the PLT, and start-up binds
# no symbols (hand runs in Benchmarks/RESULTS.md, tenth session: importing the benchmark's
# city 2.58 -> 2.30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --product yidang "$@"

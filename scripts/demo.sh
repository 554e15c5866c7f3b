#!/bin/sh
# Build ekulab and run the demo: the live handshake truth table.
# Usage: scripts/demo.sh [ekulab matrix args...]
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
exec "$BUILD/cli/ekulab" matrix "$@"

#!/usr/bin/env bash
# The long version of the property tests: the brute-force and grid comparisons of
# VerifierPropertyTests (runner-up and every target, all bound methods) and
# GoalSearchPropertyTests (input splitting against the MILP and a grid), with SCALE times the
# cases `swift test` runs (default 20: 12,000 + 4,800 random cases). Seeds are fixed, so a
# failure names a seed that reproduces it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scale="${1:-20}"
swift build --build-tests
RELUMIP_PROPERTY_SCALE="$scale" swift test --skip-build \
  --filter "VerifierPropertyTests|GoalSearchPropertyTests"
echo "property tests at scale $scale: $((600 * scale)) verifier cases and $((240 * scale)) goal-search cases passed"

#!/usr/bin/env bash
# it_plan_examples_both.sh: every example plan runs live under every dial
# mode (both, lower-name, primary) with the link rule both: 0 deviations
# from the model, nothing lost; under its own topology's dial mode every
# expectation holds (lib.sh example_plans_under).
source "${EKL_IT_LIB:?}"

export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
trap 'rc=$?; pkill -KILL -f "$TMPDIR/" 2>/dev/null || true; (exit $rc); it_cleanup' EXIT
example_plans_under both

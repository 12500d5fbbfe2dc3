#!/usr/bin/env bash
# Instruction count per operation of a micro-benchmark, under callgrind (stable on a noisy
# machine, unlike times).
#
# Usage: tools/bench_callgrind.sh BINARY BENCHMARK FUNCTION OPS [BASELINE_BENCHMARK]
#   Runs BENCHMARK (an exact name, anchored) for one iteration (--benchmark_min_time=0) and
#   counts the instructions (Ir) executed inside FUNCTION (a callgrind --toggle-collect
#   pattern, e.g. 'run_spawn_batch'), then prints Ir / OPS. With BASELINE_BENCHMARK, its count
#   for the same FUNCTION (the fixed per-batch cost) is subtracted first.
# Example:
#   tools/bench_callgrind.sh build/release/bench/corio_bench_task_bench \
#       BM_task_create_await/1000 run_spawn_batch 1000 BM_run_until_complete_overhead
set -euo pipefail

if (($# < 4)); then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
binary=$1 bench=$2 fn=$3 ops=$4 baseline=${5:-}

count() {
    local out
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="*$fn*" \
        "$binary" --benchmark_filter="^$1\$" --benchmark_min_time=0 >/dev/null 2>&1
    # The "summary:" line holds the total of the collected events (Ir only by default).
    sed -n 's/^summary: *//p' "$out" | awk '{print $1}'
    rm -f -- "$out"
}

ir=$(count "$bench")
base=0
[[ -n $baseline ]] && base=$(count "$baseline")
awk -v ir="$ir" -v base="$base" -v ops="$ops" -v name="$bench" \
    'BEGIN { printf "%s: %d Ir total, %d Ir baseline, %.1f Ir/op\n", name, ir, base, (ir - base) / ops }'

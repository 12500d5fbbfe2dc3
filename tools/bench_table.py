#!/usr/bin/env python3
"""Print Google Benchmark JSON results as a compact table.

Usage: bench_table.py RESULT.json [RESULT.json ...]

Each file is the output of a benchmark run with --benchmark_format=json. With
--benchmark_repetitions the median aggregate is shown, with the coefficient of
variation of the CPU time across repetitions (cv) when the run reports it; a
run without repetitions shows its single iteration rows instead.

User counters are shown too: `ns_per_op` (nanoseconds per operation, set by
bench/micro/bench_common.hpp) in a column of its own, the others as
name=value in the last column (e.g. the bytes per task of memory_bench).
"""

import json
import sys

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def fmt_time(value, unit):
    """Formats a time given in `unit` with a readable unit."""
    ns = value * UNIT_NS.get(unit, 1.0)
    for name, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3f} {name}"
    return f"{ns:.1f} ns" if ns >= 10 else f"{ns:.2f} ns"


def fmt_rate(value):
    """Formats a per-second rate with an SI prefix, or '-' when absent."""
    if value is None:
        return "-"
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{prefix}/s"
    return f"{value:.1f}/s"


# Keys of a benchmark entry that are not user counters.
STANDARD_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time",
    "cpu_time", "time_unit", "items_per_second", "bytes_per_second",
    "aggregate_name", "aggregate_unit", "label", "error_occurred", "error_message",
}


def fmt_number(value):
    """Formats a counter value compactly."""
    if not isinstance(value, (int, float)):
        return str(value)
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 0.01):
        return f"{value:.3g}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def counters_of(b):
    return {k: v for k, v in b.items() if k not in STANDARD_KEYS}


def rows_of(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    benchmarks = data.get("benchmarks", [])
    medians = [b for b in benchmarks if b.get("aggregate_name") == "median"]
    cvs = {
        b.get("run_name", b["name"]): b
        for b in benchmarks
        if b.get("aggregate_name") == "cv"
    }
    chosen = medians or [b for b in benchmarks if b.get("run_type", "iteration") == "iteration"]
    for b in chosen:
        name = b.get("run_name", b["name"])
        if "error_message" in b:
            yield (name, "ERROR", b["error_message"], "-", "-", "-", "-")
            continue
        unit = b.get("time_unit", "ns")
        counters = counters_of(b)
        ns_per_op = counters.pop("ns_per_op", None)
        cv = cvs.get(name)
        yield (
            name,
            fmt_time(b["real_time"], unit),
            fmt_time(b["cpu_time"], unit),
            f"{100 * cv['cpu_time']:.1f}%" if cv and "cpu_time" in cv else "-",
            fmt_rate(b.get("items_per_second")),
            "-" if ns_per_op is None else fmt_number(ns_per_op),
            " ".join(f"{k}={fmt_number(v)}" for k, v in sorted(counters.items())) or "-",
        )


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    header = (
        "benchmark", "real (median)", "cpu (median)", "cv", "items/s", "ns/op", "counters",
    )
    rows = []
    for path in argv[1:]:
        rows.extend(rows_of(path))
    if not rows:
        print("no benchmark results", file=sys.stderr)
        return 1
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    # First and last columns are text (left-aligned), the others numbers.
    last = len(header) - 1
    line = "  ".join(
        "{:<" + str(w) + "}" if i in (0, last) else "{:>" + str(w) + "}"
        for i, w in enumerate(widths)
    )
    print(line.format(*header).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line.format(*r).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Print Google Benchmark JSON results as a compact table.

Usage: bench_table.py RESULT.json [RESULT.json ...]

Each file is the output of a benchmark run with --benchmark_format=json. With
--benchmark_repetitions the median aggregate is shown; a run without
repetitions shows its single iteration rows instead.
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


def rows_of(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    benchmarks = data.get("benchmarks", [])
    medians = [b for b in benchmarks if b.get("aggregate_name") == "median"]
    chosen = medians or [b for b in benchmarks if b.get("run_type", "iteration") == "iteration"]
    for b in chosen:
        if "error_message" in b:
            yield (b.get("run_name", b["name"]), "ERROR", b["error_message"], "-")
            continue
        unit = b.get("time_unit", "ns")
        yield (
            b.get("run_name", b["name"]),
            fmt_time(b["real_time"], unit),
            fmt_time(b["cpu_time"], unit),
            fmt_rate(b.get("items_per_second")),
        )


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    header = ("benchmark", "real (median)", "cpu (median)", "items/s")
    rows = []
    for path in argv[1:]:
        rows.extend(rows_of(path))
    if not rows:
        print("no benchmark results", file=sys.stderr)
        return 1
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(
        "{:<" + str(w) + "}" if i == 0 else "{:>" + str(w) + "}" for i, w in enumerate(widths)
    )
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line.format(*r))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

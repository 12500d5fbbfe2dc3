#!/usr/bin/env python3
"""Runs the echo servers side by side and prints one Markdown table.

Usage: tools/bench_net.py [--quick] [--only NAME[,NAME...]] [--repeat R]
                          [--duration S] [--warmup S] [--no-build] ...
       (normally through ./run.sh bench-net [options])

Servers (each when its binary was built in BUILD_DIR/bench): corio's
corio_echo_server (one row per backend when it lists several), the Boost.Asio
peer on epoll and on io_uring, the libuv peer, and the hand-written C epoll
loop (the reference). Every server runs pinned to CPU 0 (taskset -c 0) and the
load generator, corio_loadgen, pinned to CPU 1. Measured for each server:

  - requests/s, ping-pong, 50 connections x 64 B, 1 KiB and 16 KiB;
  - server CPU time per request (utime + stime of /proc/PID/stat over the
    measurement window, divided by the requests) at a paced 100k req/s over 50
    connections, with the achieved rate and the p99 latency from the schedule;
  - round trips/s on one connection (ping-pong, 64 B);
  - RSS per idle connection: a fresh server's VmRSS with 1000 connections open
    (each echoed once, then idle) minus with none, divided by 1000.

Each measurement is repeated --repeat times (default 3), with the servers in a
rotated order in every repetition, and the table shows medians. A sample taken
while other processes used more than --noise of a core (read from /proc/stat)
is taken again, up to --retries times, and the quietest one kept; a table
built on a noisy sample says so. Any verification error of the load generator
stops the run with its message and a non-zero exit status.

docs/benchmarks-net.md describes the methodology and the columns.
"""

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (row name, binary) of the peers; the reference comes last.
PEERS = [
    ("asio", "asio_echo_server"),
    ("asio (io_uring)", "asio_uring_echo_server"),
    ("libuv", "libuv_echo_server"),
    ("epoll (C)", "epoll_echo_server"),
]
REFERENCE = "epoll (C)"
from bench_common import CLIENT_CPU, SERVER_CPU, BenchError, Server, log


# ------------------------------------------------------------------ servers --


def echo_server(name, argv):
    """An echo server whose command line is argv with the port inserted after the program."""
    return Server(name, lambda port: [argv[0], str(port), *argv[1:]])


def corio_variants(bench_dir):
    """Rows for corio_echo_server: one per backend it lists, else one."""
    exe = os.path.join(bench_dir, "corio_echo_server")
    if not os.access(exe, os.X_OK):
        return []
    backends = []
    try:
        out = subprocess.run([exe, "--list-backends"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            backends = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.TimeoutExpired):
        pass
    if len(backends) <= 1:
        return [("corio", [exe])]
    return [(f"corio ({b})", [exe, "--backend", b]) for b in backends]


def available_servers(bench_dir, only, with_lt=False):
    servers = corio_variants(bench_dir)
    for name, binary in PEERS:
        exe = os.path.join(bench_dir, binary)
        if os.access(exe, os.X_OK):
            if name == REFERENCE and with_lt:
                servers.append(("epoll (C, lt)", [exe, "lt"]))
            servers.append((name, [exe]))
        else:
            log(f"note: {binary} was not built; no '{name}' row")
    if only:
        wanted = [w.strip().lower() for w in only.split(",") if w.strip()]
        servers = [s for s in servers if any(w in s[0].lower() or w in os.path.basename(s[1][0]) for w in wanted)]
    return servers


# --------------------------------------------------------------- load runs --


def machine_busy_seconds():
    """Busy time of all CPUs so far (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()
    ticks = [int(x) for x in fields[1:9]]
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
    return busy / os.sysconf("SC_CLK_TCK")


def wait_quiet(noise, max_wait):
    """Waits until a second passes with less than `noise` cores of load (the
    idle servers and this driver use next to nothing), or max_wait seconds."""
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        before = machine_busy_seconds()
        time.sleep(1.0)
        if machine_busy_seconds() - before <= noise:
            return True
    return False



class LoadGen:
    def __init__(self, bench_dir, args):
        self.exe = os.path.join(bench_dir, "corio_loadgen")
        if not os.access(self.exe, os.X_OK):
            raise BenchError(f"{self.exe} was not built")
        self.args = args

    def run(self, server, extra):
        """One measurement: returns the load generator's JSON result."""
        server.check_alive()
        cmd = ["taskset", "-c", CLIENT_CPU, self.exe, "--port", str(server.port),
               "--server-pid", str(server.pid), "--json", *extra]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise BenchError(f"{server.name}: corio_loadgen failed (status {out.returncode}): "
                             f"{out.stderr.strip() or out.stdout.strip()}\n  command: {' '.join(cmd)}")
        server.check_alive()
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise BenchError(f"{server.name}: no result from corio_loadgen: {out.stdout!r}")
        result = json.loads(lines[-1])
        # Other load on the machine during the window, in cores.
        busy = result.get("machine_busy_s", -1)
        if busy >= 0 and result["seconds"] > 0:
            own = result["client_cpu_s"] + (result["server_cpu_s"] or 0)
            result["noise_cores"] = max(0.0, (busy - own) / result["seconds"])
        else:
            result["noise_cores"] = 0.0
        return result

    def measure(self, server, extra):
        """run(), taken again while other load exceeds --noise; keeps the quietest.

        Before taking a noisy sample again, waits (up to --quiet-wait seconds)
        for the machine to be quiet, since the other load (a build, say) tends
        to last longer than one sample."""
        best = None
        for attempt in range(self.args.retries + 1):
            result = self.run(server, extra)
            if best is None or result["noise_cores"] < best["noise_cores"]:
                best = result
            if result["noise_cores"] <= self.args.noise:
                break
            again = attempt < self.args.retries
            log(f"  {server.name}: other load {result['noise_cores']:.2f} cores during the sample"
                + ("; taking it again" if again else "; keeping the quietest"))
            if again:
                wait_quiet(self.args.noise, self.args.quiet_wait)
        return best

    def idle_rss(self, name, argv, connections):
        """RSS per idle connection (bytes) of a fresh server."""
        server = echo_server(name, argv).start()
        holder = None
        try:
            time.sleep(0.2)
            base_fds = server.fd_count()
            base_rss = server.rss_kib()
            holder = subprocess.Popen(
                ["taskset", "-c", CLIENT_CPU, self.exe, "--port", str(server.port), "--mode", "idle",
                 "--connections", str(connections), "--size", "64", "--hold", "120"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = holder.stdout.readline()
            if not line.startswith("ready"):
                holder.wait(timeout=10)
                raise BenchError(f"{name}: corio_loadgen --mode idle failed (status {holder.returncode}): "
                                 f"{holder.stderr.read().strip()}")
            deadline = time.monotonic() + 10
            while server.fd_count() < base_fds + connections:
                if time.monotonic() > deadline:
                    raise BenchError(f"{name}: the server holds {server.fd_count() - base_fds} of the "
                                     f"{connections} connections after 10 s")
                time.sleep(0.02)
            time.sleep(0.3)
            server.check_alive()
            rss = server.rss_kib()
            return (rss - base_rss) * 1024.0 / connections
        finally:
            if holder is not None and holder.poll() is None:
                holder.send_signal(signal.SIGTERM)
                try:
                    holder.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    holder.kill()
                    holder.wait()
            server.stop()


# ------------------------------------------------------------------ driver --


def measurements(args):
    """(key, loadgen options) of the load measurements."""
    common = ["--duration", str(args.duration), "--warmup", str(args.warmup)]
    conns = ["--connections", str(args.connections)]
    paced = ["--mode", "paced", "--rate", str(args.rate), *conns, "--size", "64"]
    if args.spin:
        paced.append("--spin")
    return [
        ("rps_64", ["--mode", "pingpong", *conns, "--size", "64", *common]),
        ("rps_1k", ["--mode", "pingpong", *conns, "--size", "1024", *common]),
        ("rps_16k", ["--mode", "pingpong", *conns, "--size", "16384", *common]),
        ("paced", [*paced, *common]),
        ("rtt", ["--mode", "pingpong", "--connections", "1", "--size", "64", *common]),
    ]


def rotated(items, n):
    n %= max(1, len(items))
    return items[n:] + items[:n]


def run_all(args, bench_dir):
    servers = available_servers(bench_dir, args.only, args.with_lt)
    if not servers:
        raise BenchError(f"no echo server to measure in {bench_dir}")
    loadgen = LoadGen(bench_dir, args)
    names = [name for name, _ in servers]
    log(f"servers: {', '.join(names)}; server on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}; "
        f"{args.repeat} repetition(s)")

    samples = {name: {} for name in names}  # name -> key -> [result]
    running = []
    try:
        running = [echo_server(name, argv).start() for name, argv in servers]
        for rep in range(args.repeat):
            for key, extra in measurements(args):
                for server in rotated(running, rep):
                    log(f"[{rep + 1}/{args.repeat}] {key}: {server.name}")
                    result = loadgen.measure(server, extra)
                    samples[server.name].setdefault(key, []).append(result)
            if args.idle > 0:
                for name, argv in rotated(servers, rep):
                    log(f"[{rep + 1}/{args.repeat}] rss ({args.idle} idle connections): {name}")
                    rss = loadgen.idle_rss(name, argv, args.idle)
                    samples[name].setdefault("rss", []).append({"bytes_per_connection": rss})
    finally:
        for server in running:
            server.stop()
    return names, samples


def quiet_of(results, noise):
    """The samples taken with at most `noise` cores of other load, or all of
    them when none was (the caller flags those)."""
    quiet = [r for r in results if r.get("noise_cores", 0) <= noise]
    return quiet or results


def median_of(results, field):
    values = [r[field] for r in results if r.get(field) is not None]
    return statistics.median(values) if values else None


def fmt_rate(value):
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def fmt_us(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_latency(us):
    if us is None:
        return "-"
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.1f} ms"


def fmt_bytes(value):
    if value is None:
        return "-"
    return f"{value / 1024:.2f} KiB" if abs(value) >= 1024 else f"{value:.0f} B"


def table(names, samples, args):
    """The Markdown table: medians of the quiet samples of each figure."""
    rate = f"{args.rate / 1000:g}k" if args.rate >= 1000 else f"{args.rate:g}"
    noisy_cells = False
    client_bound = False

    def pick(name, key):
        """(quiet-or-all samples, True when none of them was quiet)."""
        results = samples.get(name, {}).get(key, [])
        chosen = quiet_of(results, args.noise)
        return chosen, bool(results) and all(r.get("noise_cores", 0) > args.noise for r in chosen)

    def cell(name, key, field, fmt, closed_loop=False):
        nonlocal noisy_cells, client_bound
        results, noisy = pick(name, key)
        value = median_of(results, field)
        text = fmt(value)
        if value is None:
            return text
        if noisy:
            noisy_cells = True
            text += " ~"
        # The closed-loop figures are a lower bound for the server when the
        # load generator used (nearly) all of its core.
        busy = [r["client_cpu_s"] / r["seconds"] for r in results if r.get("seconds")]
        if closed_loop and busy and statistics.median(busy) >= 0.9:
            client_bound = True
            text += " c"
        return text

    ref_cpu = median_of(pick(REFERENCE, "paced")[0], "server_cpu_us_per_request")
    header = ["server", "req/s 64 B", "req/s 1 KiB", "req/s 16 KiB",
              f"CPU µs/req @{rate}/s", "vs epoll (C)", "achieved req/s", "p99",
              "1-conn round trips/s", "RSS/idle conn"]
    rows = []
    behind = False
    for name in names:
        paced, _ = pick(name, "paced")
        cpu = median_of(paced, "server_cpu_us_per_request")
        achieved = median_of(paced, "rps")
        ratio = f"{cpu / ref_cpu:.2f}×" if cpu is not None and ref_cpu else "-"
        cpu_cell = cell(name, "paced", "server_cpu_us_per_request", fmt_us)
        if achieved is not None and achieved < 0.95 * args.rate:
            cpu_cell += " *"
            behind = True
        rows.append([
            name,
            cell(name, "rps_64", "rps", fmt_rate, closed_loop=True),
            cell(name, "rps_1k", "rps", fmt_rate, closed_loop=True),
            cell(name, "rps_16k", "rps", fmt_rate, closed_loop=True),
            cpu_cell,
            ratio,
            cell(name, "paced", "rps", fmt_rate),
            cell(name, "paced", "p99_us", fmt_latency),
            cell(name, "rtt", "rps", fmt_rate, closed_loop=True),
            fmt_bytes(median_of(samples.get(name, {}).get("rss", []), "bytes_per_connection")),
        ])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    out = [line(header),
           "|" + "|".join((":" if i == 0 else "-") + "-" * w + ("-" if i == 0 else ":")
                          for i, w in enumerate(widths)) + "|"]
    out += [line(r) for r in rows]
    notes = [f"Medians of {args.repeat} repetition(s) (of the quiet ones where some were noisy); "
             f"{args.duration:g} s windows after {args.warmup:g} s warm-up; ping-pong at "
             f"{args.connections} connections; paced {rate} req/s over {args.connections} connections"
             f"{' (spinning client)' if args.spin else ''}, p99 from the scheduled send time; "
             f"RSS/idle conn: {args.idle} connections, each echoed once."]
    if behind:
        notes.append("* the server (or the client) did not sustain the paced rate (achieved < 95 %): its CPU "
                     "per request was measured at a lower rate and is not comparable.")
    if client_bound:
        notes.append("c the load generator used ≥ 90 % of its core: the figure is bounded by the client, "
                     "a lower bound for the server (compare the CPU column instead).")
    if noisy_cells:
        notes.append(f"~ every sample of this figure ran while other processes used more than {args.noise:g} "
                     f"of a core (see --raw): not reliable.")
    return "\n".join(out) + "\n\n" + "\n".join(notes)


def machine_line():
    model = "?"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def build(args):
    log("configure: release")
    subprocess.run(["cmake", "--preset", "release"], cwd=ROOT, check=True)
    log("build: release (corio_bench_net: the servers and the load generator)")
    subprocess.run(["cmake", "--build", "--preset", "release", "--target", "corio_bench_net"], cwd=ROOT, check=True)


def raise_nofile(connections):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_hard = hard if hard == resource.RLIM_INFINITY or hard >= wanted else wanted
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, new_hard))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parse_args(argv):
    p = argparse.ArgumentParser(description="Echo servers side by side (./run.sh bench-net).")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 repetition, 1 s windows, 0.3 s warm-up")
    p.add_argument("--only", help="comma-separated server names (substrings: corio, asio, uring, libuv, epoll)")
    p.add_argument("--repeat", type=int, help="repetitions (default 3; 1 with --quick)")
    p.add_argument("--duration", type=float, help="seconds measured per sample (default 5; 1 with --quick)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up per sample (default 1; 0.3 with --quick)")
    p.add_argument("--with-lt", action="store_true",
                   help="add a row for the C reference in level-triggered mode (epoll_echo_server PORT lt)")
    p.add_argument("--connections", type=int, default=50, help="connections of the multi-connection runs")
    p.add_argument("--rate", type=float, default=100000, help="paced aggregate rate, req/s (default 100000)")
    p.add_argument("--no-spin", dest="spin", action="store_false",
                   help="paced client sleeps between sends instead of spinning on its core")
    p.add_argument("--idle", type=int, default=1000,
                   help="idle connections of the RSS probe (default 1000; 0 skips it)")
    p.add_argument("--noise", type=float, default=0.15,
                   help="other load, in cores, above which a sample is taken again (default 0.15)")
    p.add_argument("--retries", type=int, default=2, help="extra attempts of a noisy sample (default 2)")
    p.add_argument("--quiet-wait", type=float, default=20,
                   help="seconds to wait for a quiet machine before taking a noisy sample again (default 20)")
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--no-build", action="store_true", help="use the existing build, do not run cmake")
    p.add_argument("--raw", help="also write every sample as JSON to this file")
    args = p.parse_args(argv)
    quick = args.quick
    args.repeat = args.repeat or (1 if quick else 3)
    args.duration = args.duration or (1.0 if quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if quick else 1.0)
    if args.repeat < 1 or args.duration <= 0 or args.connections < 1 or args.rate <= 0:
        p.error("--repeat, --duration, --connections and --rate must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        print("error: bench-net pins the server and the client to two different CPUs; this machine has one",
              file=sys.stderr)
        return 1
    try:
        if not args.no_build:
            build(args)
        raise_nofile(max(args.idle, args.connections))
        bench_dir = os.path.join(args.build_dir, "bench")
        names, samples = run_all(args, bench_dir)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as e:
        print(f"error: {' '.join(e.cmd)} failed with status {e.returncode}", file=sys.stderr)
        return 1
    if args.raw:
        with open(args.raw, "w", encoding="utf-8") as f:
            json.dump({"machine": machine_line(), "args": vars(args), "samples": samples}, f, indent=1)
    shown = [a for a in argv if a != "--no-build"]  # ./run.sh passes it after its own build
    command = "./run.sh bench-net" + "".join(f" {a}" for a in shown)
    print(f"\n`{command}` on {machine_line()}\n")
    print(table(names, samples, args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

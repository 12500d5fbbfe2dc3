#!/usr/bin/env python3
"""Runs the HTTP servers side by side under wrk and prints one Markdown table.

Usage: tools/bench_http.py [--quick] [--only NAME[,NAME...]] [--repeat R]
                           [--duration S] [--connections C] [--build-dir DIR]
       (normally through ./run.sh bench-http [options])

Servers: nginx (one worker: `worker_processes 1; master_process off;`, a
`return 200 "Hello, World!";` location, access log off, keepalive_requests
1000000, from a temporary nginx.conf), corio's bench/servers/corio_http_server
and Boost.Beast's bench/peers/beast_http_server (each when built in
BUILD_DIR/bench). All answer GET / with 200 "Hello, World!",
Content-Type text/plain; charset=utf-8, Content-Length 13, a Date header, and
keep the connection open.

Each server runs pinned to CPU 0 (taskset -c 0); `wrk -t1 -cC -dSs --latency`
runs pinned to CPU 1. Per server: requests/s, the p99 latency wrk reports, and
the server's CPU time per request: utime + stime of /proc/PID/stat (all its
threads) over the wrk run, divided by the requests wrk completed. The last
column is the CPU per request relative to nginx in the same run.

Before measuring, each server's answer to one request is checked (status 200,
the body), so that a broken server cannot post a fast number. The rounds are
interleaved (nginx, corio, beast, nginx, corio, ...) and the table shows the
median of each column over --repeat rounds.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench_common import CLIENT_CPU, SERVER_CPU, BenchError, cpu_seconds, log
from bench_common import Server as BaseServer

BODY = b"Hello, World!"

NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type "text/plain; charset=utf-8";
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{
            return 200 "Hello, World!";
        }}
    }}
}}
"""


class Server(BaseServer):
    """An HTTP server that answers GET / with "Hello, World!"."""

    def verify(self):
        """One GET / on a fresh connection: the status line, Content-Length and body."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5.0) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(BODY):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
                if len(data) > 65536:
                    break
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip()
                   for l in lines[1:] if b":" in l}
        if not lines[0].startswith(b"HTTP/1.1 200") or body != BODY \
                or headers.get(b"content-length") != b"13" or b"date" not in headers:
            raise BenchError(f"{self.name}: wrong answer to GET /: {data[:500]!r}")


def parse_duration(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise BenchError(f"cannot parse wrk duration {text!r}")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[m.group(2)]
    return float(m.group(1)) * scale  # milliseconds


def run_wrk(server, args, duration):
    server.check_alive()
    cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{args.connections}",
           f"-d{duration}s", "--latency", f"http://127.0.0.1:{server.port}/"]
    before = cpu_seconds(server.proc.pid)
    out = subprocess.run(cmd, capture_output=True, text=True)
    after = cpu_seconds(server.proc.pid)
    server.check_alive()
    if out.returncode != 0:
        raise BenchError(f"{server.name}: wrk failed: {out.stderr.strip()}")
    text = out.stdout
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s*99%\s+(\S+)", text, re.M)
    if not m or not rps or not p99:
        raise BenchError(f"{server.name}: cannot read wrk's output:\n{text}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if errors:
        raise BenchError(f"{server.name}: {errors.group(1)} non-2xx responses:\n{text}")
    socket_errors = re.search(r"Socket errors: (.*)", text)
    requests = int(m.group(1))
    return {
        "rps": float(rps.group(1)),
        "p99_ms": parse_duration(p99.group(1)),
        "cpu_us": (after - before) * 1e6 / max(requests, 1),
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--duration", type=float, default=None, help="seconds per wrk run (default 10)")
    ap.add_argument("--repeat", type=int, default=None, help="rounds (default 3)")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of wrk before measuring")
    ap.add_argument("--quick", action="store_true", help="one round of 3 s")
    ap.add_argument("--only", default="", help="comma-separated server names (nginx,corio,beast)")
    ap.add_argument("--no-build", action="store_true", help="accepted for ./run.sh (no effect)")
    args = ap.parse_args()
    duration = args.duration or (3 if args.quick else 10)
    repeat = args.repeat or (1 if args.quick else 3)
    duration = max(1, int(round(duration)))

    if not shutil.which("wrk"):
        raise BenchError("wrk is not installed (./run.sh bench-http installs it)")
    if not shutil.which("taskset"):
        raise BenchError("taskset is not installed (util-linux)")
    if (os.cpu_count() or 1) < 2:
        raise BenchError("needs two CPUs (server on CPU 0, wrk on CPU 1)")

    bench_dir = os.path.join(args.build_dir, "bench")
    tmp = tempfile.mkdtemp(prefix="corio-bench-http-")
    candidates = []
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if nginx:
        def nginx_argv(port):
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w", encoding="ascii") as f:
                f.write(NGINX_CONF.format(tmp=tmp, port=port))
            return [nginx, "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "error.log")]
        candidates.append(Server("nginx", nginx_argv))
    else:
        log("note: nginx is not installed; no 'nginx' row")
    for name, binary in (("corio", "corio_http_server"), ("beast", "beast_http_server")):
        exe = os.path.join(bench_dir, binary)
        if os.access(exe, os.X_OK):
            candidates.append(Server(name, lambda port, exe=exe: [exe, str(port)]))
        else:
            log(f"note: {exe} was not built; no '{name}' row")
    if args.only:
        wanted = {w.strip().lower() for w in args.only.split(",") if w.strip()}
        candidates = [s for s in candidates if s.name in wanted]
    if not candidates:
        raise BenchError("no server to measure")

    results = {s.name: [] for s in candidates}
    try:
        for s in candidates:
            s.start()
            s.verify()
            log(f"{s.name}: listening on {s.port}, answer checked")
            run_wrk(s, args, max(1, int(round(args.warmup))))  # warm-up, not kept
        for r in range(repeat):
            for s in candidates:
                res = run_wrk(s, args, duration)
                results[s.name].append(res)
                log(f"round {r + 1}/{repeat} {s.name}: {res['rps']:.0f} req/s, "
                    f"p99 {res['p99_ms']:.2f} ms, {res['cpu_us']:.2f} us CPU/req"
                    + (f", socket errors: {res['socket_errors']}" if res["socket_errors"] else ""))
            for s in candidates:
                s.verify()
    finally:
        for s in candidates:
            s.stop(quiet=True)
        shutil.rmtree(tmp, ignore_errors=True)

    med = {name: {k: statistics.median(x[k] for x in rs) for k in ("rps", "p99_ms", "cpu_us")}
           for name, rs in results.items()}
    ref = med.get("nginx", {}).get("cpu_us")
    print(f"\nwrk -t1 -c{args.connections} -d{duration}s, server on CPU {SERVER_CPU}, wrk on CPU "
          f"{CLIENT_CPU}; medians of {repeat} interleaved round(s)\n")
    print("| server | requests/s | p99 latency | server CPU per request | CPU vs nginx |")
    print("|---|---:|---:|---:|---:|")
    for name, m in med.items():
        ratio = f"{m['cpu_us'] / ref:.2f}x" if ref else "-"
        print(f"| {name} | {m['rps']:,.0f} | {m['p99_ms']:.2f} ms | {m['cpu_us']:.2f} µs | {ratio} |")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

"""What the benchmark drivers (bench_net.py, bench_http.py) share: logging, free ports, and a
server process pinned to the server CPU whose CPU time, memory and fds can be read."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SERVER_CPU = "0"
CLIENT_CPU = "1"


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One running server, pinned to SERVER_CPU. argv_for_port(port) gives its command line."""

    def __init__(self, name, argv_for_port):
        self.name = name
        self.argv_for_port = argv_for_port
        self.port = None
        self.proc = None
        self.stderr = None

    def start(self):
        for _ in range(5):
            self.port = free_port()
            self.stderr = tempfile.TemporaryFile()
            self.proc = subprocess.Popen(
                ["taskset", "-c", SERVER_CPU, *self.argv_for_port(self.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
            if self._wait_accepting():
                return self
            self.stop(quiet=True)
        self.stderr.seek(0)
        err = self.stderr.read().decode(errors="replace").strip()[-2000:]
        raise BenchError(f"{self.name}: the server did not start listening"
                         + (f": {err}" if err else ""))

    def _wait_accepting(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken between probe and bind
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    pass
                return True
            except OSError:
                time.sleep(0.01)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def check_alive(self):
        if self.proc.poll() is not None:
            self.stderr.seek(0)
            err = self.stderr.read().decode(errors="replace").strip()[-2000:]
            raise BenchError(f"{self.name}: the server exited with status {self.proc.returncode}"
                             + (f": {err}" if err else ""))

    def stop(self, quiet=False):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=5)
            if status != 0 and not quiet:
                log(f"warning: {self.name} exited with status {status} on SIGTERM")
        except subprocess.TimeoutExpired:
            if not quiet:
                log(f"warning: {self.name} ignored SIGTERM for 5 s; killing it")
            self.proc.kill()
            self.proc.wait()

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise BenchError(f"{self.name}: no VmRSS in /proc/{self.pid}/status")

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

#!/usr/bin/env bash
# Instructions per request of an echo server, counted by callgrind (user space only; the kernel's
# work is not counted). Stable across runs, unlike CPU time on a shared machine.
#
#   tools/echo_callgrind.sh SERVER_BINARY [SERVER_ARGS...]
#   tools/echo_callgrind.sh build/release/bench/corio_echo_server
#   tools/echo_callgrind.sh build/release/bench/epoll_echo_server
#
# The server runs under callgrind on a free port; build/release/bench/corio_loadgen drives 50
# ping-pong connections of 64 B for 10 s; the script prints the requests, the instructions of the
# whole run (start-up included, which is negligible at this length) and their ratio.
# Environment: LOADGEN (default build/release/bench/corio_loadgen), DURATION (10), SIZE (64),
# RATE (unset: ping-pong; a number: paced at RATE requests/s in all, whose small batches show the
# cost of each turn of the loop, which ping-pong's large batches under callgrind hide).
set -euo pipefail
server=${1:?usage: $0 SERVER_BINARY [SERVER_ARGS...]}
shift
loadgen=${LOADGEN:-build/release/bench/corio_loadgen}
duration=${DURATION:-10}
size=${SIZE:-64}
mode=()
[[ -n ${RATE:-} ]] && mode=(--mode paced --rate "$RATE")
command -v valgrind > /dev/null || { echo "$0: valgrind is not installed" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$server" "$port" "$@" \
    > "$out/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" \
        2> /dev/null && break
    sleep 0.2
done
"$loadgen" --port "$port" --connections 50 --size "$size" --duration "$duration" --warmup 0 \
    "${mode[@]}" --json > "$out/load.json"
kill -INT "$pid"
wait "$pid" || true
python3 - "$out/load.json" "$out/cg.out" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
total = None
for line in open(sys.argv[2]):
    if line.startswith(("summary:", "totals:")):
        total = int(line.split()[1])
requests = load["requests"]
print(f"requests {requests}  instructions {total}  per request {total / requests:.0f}")
PY

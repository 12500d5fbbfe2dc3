#!/bin/bash
# The paced comparison of docs/performance.md: the echo servers of the Bar, each pinned to CPU 0
# with the spinning client on CPU 1, in interleaved rounds (one sample of each server per round),
# printing the server's CPU time per request at a paced 100k req/s of 64 B for each sample.
# Usage: tools/bench_paced.sh [ROUNDS [SECONDS]]   (after ./run.sh bench-net built the servers)
set -euo pipefail
B=${B:-build/release/bench}
ROUNDS=${1:-10}
DUR=${2:-5}
names=(corio-epoll corio-io_uring asio libuv epoll-C)
cmds=("$B/corio_echo_server 9451 --backend epoll" "$B/corio_echo_server 9452 --backend io_uring"
      "$B/asio_echo_server 9453" "$B/libuv_echo_server 9454" "$B/epoll_echo_server 9455")
pids=()
cleanup() { kill "${pids[@]}" 2> /dev/null || true; }
trap cleanup EXIT
for i in "${!names[@]}"; do
    taskset -c 0 ${cmds[$i]} > /dev/null 2>&1 &
    pids[$i]=$!
done
sleep 1
echo "round ${names[*]}"
for r in $(seq "$ROUNDS"); do
    line="$r"
    for i in "${!names[@]}"; do
        out=$(taskset -c 1 "$B/corio_loadgen" --port $((9451 + i)) --connections 50 --size 64 \
            --mode paced --rate 100000 --spin --duration "$DUR" --warmup 1 \
            --server-pid "${pids[$i]}" --json)
        line="$line $(echo "$out" | python3 -c \
            'import json,sys; print(round(json.load(sys.stdin)["server_cpu_us_per_request"], 2))')"
    done
    echo "$line"
done

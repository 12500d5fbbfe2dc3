#!/usr/bin/env bash
# corio's one entry point for building, testing, benchmarking and formatting.
# Usage: ./run.sh <command> [args]   (./run.sh help lists the commands)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD

# Debian packages the build needs (liburing-dev and pkg-config: the io_uring backend;
# libssl-dev: corio::tls; openssl and curl: the peers of the TLS and HTTP interoperability tests).
PACKAGES=(cmake ninja-build g++ clang libgtest-dev libgmock-dev googletest libbenchmark-dev clang-format
    liburing-dev pkg-config libssl-dev openssl curl python3-h11)
# Extra Debian packages of `./run.sh bench-net` only: the peer echo servers
# (Boost.Asio, libuv; Asio's io_uring variant also uses liburing-dev from PACKAGES).
# Not part of the plain build.
BENCH_NET_PACKAGES=(libboost1.81-dev libuv1-dev)
# What ./run.sh bench-http needs besides PACKAGES: the nginx and Beast peers and wrk.
BENCH_HTTP_PACKAGES=(nginx-light wrk libboost1.81-dev)
# Folders whose *.cpp / *.hpp files are formatted.
FORMAT_DIRS=(include src tests examples bench tools fuzz)
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}

# CORIO_CXX picks the C++ compiler (e.g. CORIO_CXX=clang++); plain CXX works too.
if [[ -n ${CORIO_CXX:-} ]]; then
    export CXX=$CORIO_CXX
fi
# Keep the C compiler from the same family as the C++ one.
if [[ -n ${CXX:-} && -z ${CC:-} ]]; then
    case $(basename -- "$CXX") in
        clang++*) export CC=${CXX/clang++/clang} ;;
        g++*) export CC=${CXX/g++/gcc} ;;
    esac
fi

usage() {
    cat <<'USAGE'
Usage: ./run.sh <command> [args]

  deps                  install the missing Debian packages (apt-get)
  build [preset]        configure and build (preset: debug, release, asan, tsan; default release)
  demo [args...]        build release and run examples/walkthrough
  test [preset]         build and run the tests with ctest (default preset: debug)
  bench                 build release and run the micro-benchmarks as a table
  bench-net [options]   echo servers side by side (corio, Asio, libuv, C epoll):
                        installs the peers' packages, builds release, prints a
                        table (tools/bench_net.py --help lists the options,
                        e.g. --quick, --only NAME, --repeat R, --duration S)
  bench-http [options]  HTTP servers side by side under wrk (nginx with one worker,
                        corio, Boost.Beast): CPU per request and req/s
                        (tools/bench_http.py --help; --quick, --repeat R, ...)
  format                clang-format -i every C++ file
  format-check          fail if any C++ file is not clang-formatted
  clean                 remove build/

Environment: CORIO_CXX or CXX picks the compiler, e.g. CORIO_CXX=clang++ ./run.sh test
USAGE
}

log() { printf '==> %s\n' "$*" >&2; }

is_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

# Installs the missing Debian packages among "$@" (default: PACKAGES).
cmd_deps() {
    local wanted=("$@") missing=() p
    ((${#wanted[@]} > 0)) || wanted=("${PACKAGES[@]}")
    for p in "${wanted[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    # bench_table.py needs a python3, from Debian or elsewhere.
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    ((${#missing[@]} == 0)) && return 0

    log "installing: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

check_preset() {
    case $1 in
        debug | release | asan | tsan) ;;
        *) echo "error: unknown preset '$1' (debug, release, asan, tsan)" >&2; exit 2 ;;
    esac
}

# Prints "--fresh" when the build dir was configured with another compiler than
# the one CXX asks for, since CMake ignores CXX once a cache exists.
fresh_flag() {
    local cache="build/$1/CMakeCache.txt" wanted cached
    [[ -n ${CXX:-} && -f $cache ]] || return 0
    wanted=$(command -v -- "$CXX" 2>/dev/null || true)
    [[ -n $wanted ]] || return 0
    cached=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache")
    if [[ -n $cached && $(readlink -f -- "$wanted") != $(readlink -f -- "$cached") ]]; then
        log "compiler changed ($cached -> $wanted): reconfiguring build/$1 from scratch"
        echo --fresh
    fi
}

# cmd_build [preset] [target]: everything, or only one target (and what it needs).
cmd_build() {
    local preset=${1:-release} target=${2:-}
    check_preset "$preset"
    cmd_deps
    local fresh
    fresh=$(fresh_flag "$preset")
    log "configure: $preset"
    cmake --preset "$preset" $fresh
    log "build: $preset${target:+ ($target)}"
    cmake --build --preset "$preset" ${target:+--target "$target"}
}

cmd_demo() {
    cmd_build release
    local exe=build/release/examples/walkthrough
    if [[ ! -x $exe ]]; then
        echo "error: $exe was not built (is examples/walkthrough.cpp there?)" >&2
        exit 1
    fi
    "$exe" "$@"
}

cmd_test() {
    local preset=${1:-debug}
    cmd_build "$preset"
    log "test: $preset"
    ctest --preset "$preset"
}

cmd_bench() {
    cmd_build release
    shopt -s nullglob
    local benches=(build/release/bench/corio_bench_*)
    shopt -u nullglob
    if ((${#benches[@]} == 0)); then
        echo "error: no benchmark in build/release/bench (add bench/micro/*.cpp)" >&2
        exit 1
    fi
    local out
    out=$(mktemp -d)
    # Expanded now: $out is local and gone when the EXIT trap runs.
    trap "rm -rf -- $(printf '%q' "$out")" EXIT
    local b jsons=()
    for b in "${benches[@]}"; do
        [[ -x $b && -f $b ]] || continue
        log "bench: $(basename -- "$b")"
        "$b" --benchmark_min_time=0.2 --benchmark_repetitions=3 \
            --benchmark_report_aggregates_only=true \
            --benchmark_format=json >"$out/$(basename -- "$b").json"
        jsons+=("$out/$(basename -- "$b").json")
    done
    python3 tools/bench_table.py "${jsons[@]}"
}

cmd_bench_http() {
    cmd_deps "${PACKAGES[@]}" "${BENCH_HTTP_PACKAGES[@]}"
    # The two servers only (corio's and the Beast peer), not the tests; nginx is Debian's.
    cmd_build release corio_http_server
    cmd_build release beast_http_server
    python3 tools/bench_http.py --build-dir build/release "$@"
}

# cmd_fuzz [seconds] [target]: builds the libFuzzer targets of fuzz/ with clang in build/fuzz and
# runs each (or only `target`) for `seconds` (default 60) on a copy of its seed corpus, with the
# HTTP dictionary. Prints executions and coverage per target; a crash, a leak or a failed
# invariant makes it exit non-zero (the input is saved under build/fuzz/artifacts/<target>/).
cmd_fuzz() {
    local seconds=${1:-60} only=${2:-}
    local targets=(http_request_fuzz http_response_fuzz http_chunked_fuzz) t
    if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
        echo "error: fuzz: seconds must be a positive number, not '$seconds'" >&2
        exit 2
    fi
    if [[ -n $only ]]; then
        local known=0
        for t in "${targets[@]}"; do
            [[ $t == "$only" ]] && known=1
        done
        if ((known == 0)); then
            echo "error: fuzz: unknown target '$only' (${targets[*]})" >&2
            exit 2
        fi
        targets=("$only")
    fi
    # clang and its runtime libraries (libFuzzer, ASan, UBSan), besides the build's packages.
    cmd_deps "${PACKAGES[@]}" libclang-rt-14-dev
    local dir=build/fuzz
    log "configure: $dir (clang, CORIO_BUILD_FUZZ=ON)"
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DCORIO_BUILD_FUZZ=ON \
        -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=OFF -DCORIO_BUILD_BENCH=OFF >/dev/null
    log "build: ${targets[*]}"
    cmake --build "$dir" --target "${targets[@]}"

    local failed=() summary=() log_file rc execs cov ft
    for t in "${targets[@]}"; do
        # The fuzzer adds what it finds to a copy, never to the seed corpus in the repo.
        rm -rf -- "$dir/corpus/$t"
        mkdir -p "$dir/corpus" "$dir/artifacts/$t"
        cp -r -- "fuzz/corpus/$t" "$dir/corpus/$t"
        log_file="$dir/artifacts/$t.log"
        log "fuzz: $t for ${seconds}s (log: $log_file)"
        rc=0
        "$dir/fuzz/$t" -max_total_time="$seconds" -max_len=4096 -timeout=30 \
            -dict=fuzz/http.dict -print_final_stats=1 \
            -artifact_prefix="$dir/artifacts/$t/" "$dir/corpus/$t" >"$log_file" 2>&1 || rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log_file" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$log_file" | tail -n 1 | cut -d' ' -f2)
        ft=$(grep -o 'ft: [0-9]*' "$log_file" | tail -n 1 | cut -d' ' -f2)
        if ((rc != 0)); then
            failed+=("$t")
            tail -n 40 -- "$log_file" >&2
            summary+=("$(printf '%-20s FAILED (exit %s)  execs %s  cov %s  ft %s' "$t" "$rc" \
                "${execs:-?}" "${cov:-?}" "${ft:-?}")")
        else
            summary+=("$(printf '%-20s ok  execs %s  cov %s  ft %s' "$t" "${execs:-?}" \
                "${cov:-?}" "${ft:-?}")")
        fi
    done
    printf '%s\n' "${summary[@]}"
    if ((${#failed[@]} > 0)); then
        echo "error: fuzz: ${failed[*]} failed; inputs in $dir/artifacts/" >&2
        exit 1
    fi
}

cmd_bench_net() {
    cmd_deps "${PACKAGES[@]}" "${BENCH_NET_PACKAGES[@]}"
    # The servers and the load generator only (bench/CMakeLists.txt), not the tests.
    cmd_build release corio_bench_net
    python3 tools/bench_net.py --no-build "$@"
}

# NUL-separated list of the tracked and untracked (not ignored) C++ files that
# exist (git ls-files also lists tracked files deleted from the work tree).
cpp_files() {
    local dirs=() d f
    for d in "${FORMAT_DIRS[@]}"; do
        [[ -d $d ]] && dirs+=("$d")
    done
    ((${#dirs[@]} == 0)) && return 0
    {
        if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
            git ls-files -z --cached --others --exclude-standard -- "${dirs[@]}"
        else
            find "${dirs[@]}" -type f -print0
        fi
    } | while IFS= read -r -d '' f; do
        if [[ ($f == *.cpp || $f == *.hpp) && -f $f ]]; then
            printf '%s\0' "$f"
        fi
    done
    return 0
}

cmd_format() {
    cpp_files | xargs -0 -r "$CLANG_FORMAT" -i
}

cmd_format_check() {
    local files=() f
    while IFS= read -r -d '' f; do
        files+=("$f")
    done < <(cpp_files)
    if ((${#files[@]} == 0)); then
        log "format-check: no C++ file"
        return 0
    fi
    if "$CLANG_FORMAT" --dry-run -Werror "${files[@]}"; then
        log "format-check: ${#files[@]} files OK"
    else
        echo "error: some files are not formatted; run ./run.sh format" >&2
        exit 1
    fi
}

cmd_clean() {
    rm -rf -- "$ROOT/build"
}

main() {
    local cmd=${1:-}
    (($# > 0)) && shift
    case $cmd in
        deps) cmd_deps ;;
        build) cmd_build "$@" ;;
        demo) cmd_demo "$@" ;;
        test) cmd_test "$@" ;;
        bench) cmd_bench ;;
        bench-net) cmd_bench_net "$@" ;;
        bench-http) cmd_bench_http "$@" ;;
        fuzz) cmd_fuzz "$@" ;;
        format) cmd_format ;;
        format-check) cmd_format_check ;;
        clean) cmd_clean ;;
        help | -h | --help) usage ;;
        *)
            [[ -n $cmd ]] && echo "error: unknown command '$cmd'" >&2
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"

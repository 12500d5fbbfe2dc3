#!/usr/bin/env bash
# corio's one entry point for building, testing, benchmarking and formatting.
# Usage: ./run.sh <command> [args]   (./run.sh help lists the commands)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD

# Debian packages the build needs (liburing-dev and pkg-config: the io_uring backend;
# libssl-dev: corio::tls; openssl and curl: the peers of the TLS and HTTP interoperability tests).
PACKAGES=(cmake ninja-build g++ clang libgtest-dev libgmock-dev googletest libbenchmark-dev clang-format
    liburing-dev pkg-config libssl-dev openssl curl)
# Extra Debian packages of `./run.sh bench-net` only: the peer echo servers
# (Boost.Asio, libuv; Asio's io_uring variant also uses liburing-dev from PACKAGES).
# Not part of the plain build.
BENCH_NET_PACKAGES=(libboost1.81-dev libuv1-dev)
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
    echo "error: bench-http is not written yet" >&2
    exit 1
}

cmd_fuzz() {
    echo "error: fuzz is not written yet" >&2
    exit 1
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

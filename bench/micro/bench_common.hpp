#pragma once

// Helpers shared by the micro-benchmarks (header only: every bench/micro/*.cpp is its own
// executable).

#include <benchmark/benchmark.h>

#include <cstdint>

namespace corio_bench {

/// Keeps `value` (and the work that produced it) from being optimised away. Always takes the
/// const& overload of benchmark::DoNotOptimize: in Google Benchmark 1.7.1 (Debian 12) the
/// non-const overload's "+m,r" asm constraint makes g++ 12 read back a wrong value at -O1 with
/// ASan (seen here: a correct co_return'ed sum came back as garbage).
template <typename T>
inline void keep(const T& value) {
    benchmark::DoNotOptimize(value);
}

/// Reports `ops_per_iteration` operations per benchmark iteration: items/s, and a counter
/// `ns_per_op` holding nanoseconds per operation (on real time when the benchmark uses
/// UseRealTime(), CPU time otherwise).
inline void report_ops(benchmark::State& state, std::int64_t ops_per_iteration) {
    state.SetItemsProcessed(state.iterations() * ops_per_iteration);
    // A rate counter is divided by the elapsed seconds; inverted it becomes seconds per unit.
    // Counting 1e-9 units per operation turns that into nanoseconds per operation.
    state.counters["ns_per_op"] = benchmark::Counter(static_cast<double>(ops_per_iteration) * 1e-9,
                                                     benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
}

} // namespace corio_bench

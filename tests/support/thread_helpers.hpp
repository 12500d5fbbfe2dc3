#pragma once

// Helpers for the tests that use real threads (thread_pool, to_thread, loop_group,
// run_coroutine_threadsafe): reading a future's exception on the caller's thread, and waiting
// for another thread without hanging forever when something is broken.

#include <chrono>
#include <exception>
#include <future>
#include <thread>

namespace corio::test {

/// The exception a future holds, or null. Keeping the exception_ptr alive in the caller makes
/// the caller's thread the one that frees the exception object: otherwise the producer thread
/// may free it after the caller read it, synchronised only by libstdc++'s exception reference
/// count, which TSan cannot see (libstdc++ is not instrumented) and reports as a race.
template <typename T>
std::exception_ptr exception_of(std::future<T>& f) {
    try {
        f.get();
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

/// Spins (politely, sleeping 200 us between checks) until `pred()` holds or `limit` passes;
/// returns whether it holds. Blocks the calling thread: not for use on a loop's thread while
/// the loop must run.
template <typename Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

} // namespace corio::test

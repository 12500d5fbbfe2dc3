#pragma once

#include "corio/core/task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/loop_options.hpp"

#include <utility>

namespace corio {

namespace detail {
/// Runs `main` on `loop` to completion with SIGINT mapped to cancelling it, then cancels the
/// tasks that are left, runs them to their end, and closes the loop.
void run_main(event_loop& loop, task_ref main);
} // namespace detail

/// Runs `main` on a new event loop and returns its result (asyncio's run).
///
/// When main finishes, every task still pending is cancelled and the loop runs until they have
/// all finished; then the loop closes. On the main thread, a first SIGINT (Ctrl-C) cancels main;
/// a second one terminates the process as usual. With options.cancel_main_on_sigterm, SIGTERM
/// does the same. A signal whose action the program set itself (or that a corio signal handler
/// or signal_set listens to) is left alone.
///
/// Errors: main's exception, or cancelled_error if main was cancelled (for example by SIGINT);
/// std::logic_error if a loop is already running on this thread.
///
/// Example: `int main() { return corio::run(amain()); }`
template <typename T>
T run(task<T> main, loop_options options = {}) {
    event_loop loop(std::move(options));
    task_handle<T> h = loop.create_task(std::move(main), "main");
    detail::run_main(loop, h);
    return h.promise().take_result();
}

} // namespace corio

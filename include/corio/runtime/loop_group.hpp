#pragma once

#include "corio/core/task.hpp"
#include "corio/runtime/loop_handle.hpp"
#include "corio/runtime/loop_options.hpp"
#include "corio/runtime/run_coroutine_threadsafe.hpp"

#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

/// N event loops on N threads (DESIGN.md: parallelism is one loop per thread, no shared mutable
/// state between loops). Each loop runs forever, until stop(), with its own tasks; work reaches
/// a loop through its handle or spawn().
///
/// stop() makes every loop wind down the way corio::run does: its remaining tasks are
/// cancelled and run to their end, then the loop closes (which also joins its default
/// executor). Futures of tasks that had not finished then hold cancelled_error.
///
/// Example: a server with one SO_REUSEPORT listener per core:
/// @code
/// corio::loop_group group(std::thread::hardware_concurrency());
/// for (std::size_t i = 0; i < group.size(); ++i)
///     group.spawn(i, [i] { return serve(i); }); // serve(i) binds its own listener
/// group.join(); // until some thread calls group.stop()
/// @endcode
class loop_group {
  public:
    /// Starts `n` threads, each running a new event_loop built with `options`, and returns once
    /// all of them run.
    ///
    /// Errors: std::invalid_argument if n is 0; the event_loop constructor's errors;
    /// std::system_error if a thread cannot be started. The loops already started are then
    /// stopped and joined.
    explicit loop_group(std::size_t n, loop_options options = {});
    /// Stops the loops and joins their threads. A loop failure that join() would rethrow is
    /// dropped. Must not be called from one of the group's threads.
    ~loop_group();
    loop_group(const loop_group&) = delete;
    loop_group& operator=(const loop_group&) = delete;

    /// The number of loops.
    [[nodiscard]] std::size_t size() const noexcept { return m_slots.size(); }
    /// The handle of loop `i`, for call_soon_threadsafe or run_coroutine_threadsafe. It stays
    /// valid (refusing calls) after the loop has closed. Errors: std::out_of_range.
    [[nodiscard]] loop_handle handle(std::size_t i) const;

    /// Runs the task `factory()` on loop `i` and returns a future for its result. The factory is
    /// called on the loop's own thread, so it may create loop-local state. Thread-safe.
    ///
    /// Errors: std::out_of_range; std::runtime_error if the loop has stopped. The future holds
    /// the task's result or exception, cancelled_error if it was cancelled (stop() cancels
    /// unfinished tasks), or std::runtime_error if the loop closed before running it.
    template <typename Factory>
    auto spawn(std::size_t i, Factory factory)
        -> std::future<typename std::invoke_result_t<Factory&>::value_type> {
        using result = typename std::invoke_result_t<Factory&>::value_type;
        return detail::post_task<result>(handle(i), std::move(factory));
    }

    /// Asks every loop to wind down (cancel its tasks, run them to their end, close). Returns
    /// at once; join() waits. Idempotent and thread-safe, callable from the loops' own tasks.
    void stop() noexcept;
    /// Waits until every loop thread has ended (after stop(), or when a loop failed), then
    /// rethrows the first failure of a loop itself, if any (task failures go to their futures
    /// or to the loop's exception handler, not here). Call it from one thread at a time, not
    /// from the group's own threads.
    void join();

  private:
    struct slot; // one loop: its thread, handle, main task and failure (src/runtime)
    struct startup;
    static void run_loop(slot& s, const loop_options& options, startup& st) noexcept;

    std::vector<std::unique_ptr<slot>> m_slots;
};

/// Runs `main(i)` for i in [0, n) on n event loops, one per thread, like corio::run on each, and
/// returns once all have finished. main(0) runs on the calling thread (so on the main thread a
/// first Ctrl-C cancels it, as corio::run does), the others on new threads. `main` is called
/// once per index, on the thread that will run that loop, possibly concurrently.
///
/// When one main fails, the others are cancelled (like a task_group across threads, so that a
/// server whose listener cannot bind does not leave the other loops serving forever); after all
/// have finished, the first failure is rethrown.
///
/// Errors: the first failure of a main (cancelled_error if the first to end abnormally was
/// cancelled, e.g. by Ctrl-C); std::invalid_argument if n is 0; std::system_error if a thread
/// cannot be started (the started mains are cancelled first); std::logic_error if a loop
/// already runs on the calling thread.
///
/// Example:
/// @code
/// corio::run_parallel(4, [](std::size_t index) -> corio::task<> { co_await serve(index); });
/// @endcode
void run_parallel(std::size_t n, const std::function<task<void>(std::size_t index)>& main,
                  loop_options options = {});

} // namespace corio

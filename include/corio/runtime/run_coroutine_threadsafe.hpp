#pragma once

#include "corio/core/create_task.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/loop_handle.hpp"

#include <exception>
#include <future>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

/// The promise side of run_coroutine_threadsafe's future. Dropped unfulfilled — the posted call
/// destroyed unrun, or the task's frame destroyed unfinished because its loop closed — it
/// gives the future a std::runtime_error instead of std::future_error(broken_promise), so a
/// thread blocked on the future learns why.
template <typename T>
class future_setter {
  public:
    future_setter() = default;
    future_setter(future_setter&& o) noexcept
        : m_promise(std::move(o.m_promise)), m_active(std::exchange(o.m_active, false)) {}
    future_setter& operator=(future_setter&&) = delete;
    ~future_setter() {
        if (m_active)
            set_exception(std::make_exception_ptr(
                std::runtime_error("corio: the event loop closed before the coroutine finished")));
    }

    std::future<T> get_future() { return m_promise.get_future(); }

    template <typename... V>
    void set_value(V&&... v) {
        if (std::exchange(m_active, false))
            m_promise.set_value(std::forward<V>(v)...);
    }
    void set_exception(std::exception_ptr e) noexcept {
        if (std::exchange(m_active, false)) {
            try {
                m_promise.set_exception(std::move(e));
            } catch (...) { // std::future_error cannot happen: the promise is set only here
            }
        }
    }

  private:
    std::promise<T> m_promise;
    bool m_active = true;
};

/// The root task that runs the submitted coroutine inline and fulfils the future.
template <typename T>
task<void> fulfil(task<T> t, future_setter<T> out) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(t);
            out.set_value();
        } else if constexpr (std::is_reference_v<T>) {
            T r = co_await std::move(t);
            out.set_value(r);
        } else {
            T v = co_await std::move(t);
            out.set_value(std::move(v));
        }
    } catch (...) {
        out.set_exception(std::current_exception());
    }
}

/// Posts to `loop` a call that makes the task `make()` (on the loop thread) and runs it as a
/// root task whose outcome goes to the returned future. Shared by run_coroutine_threadsafe and
/// loop_group::spawn.
template <typename T, typename Make>
std::future<T> post_task(const loop_handle& loop, Make make) {
    future_setter<T> out;
    std::future<T> f = out.get_future();
    auto start = [make = std::move(make), out = std::move(out)]() mutable {
        try {
            scheduler* s = scheduler::current();
            if (!s)
                throw std::logic_error("corio: run_coroutine_threadsafe: no running loop");
            task<T> t = make();
            create_task(*s, fulfil(std::move(t), std::move(out)));
        } catch (...) {
            out.set_exception(std::current_exception()); // a no-op if the task took it
        }
    };
    loop.call_soon_threadsafe(std::move(start));
    return f;
}

} // namespace detail

/// Schedules `coro` as a task on the loop behind `loop` and returns a future for its result
/// (asyncio's run_coroutine_threadsafe). The one way to start a task on a loop from another
/// thread; the task is created on the loop thread, in the order of the thread's other posts.
///
/// Do not block on the future from the loop's own thread: the loop could not run the task.
///
/// Cancellation: if the task ends cancelled (cancelled by code on the loop, or by corio::run
/// winding down), the future holds cancelled_error. The future itself cannot cancel the task.
///
/// Errors: throws std::runtime_error if the loop has already closed (`coro` is destroyed
/// unrun); std::bad_alloc. The future holds the task's exception, or std::runtime_error if the
/// loop closes before the task finishes (no thread blocked on it hangs).
///
/// Example:
/// @code
/// std::future<int> f = corio::run_coroutine_threadsafe(compute(21), handle);
/// int v = f.get(); // on a thread that is not the loop's
/// @endcode
template <typename T>
std::future<T> run_coroutine_threadsafe(task<T> coro, const loop_handle& loop) {
    if (!coro.valid())
        throw std::logic_error("corio::run_coroutine_threadsafe: empty task");
    return detail::post_task<T>(loop, [t = std::move(coro)]() mutable { return std::move(t); });
}

/// The same for a loop object; thread-safe (it only uses `loop.handle()`).
template <typename T>
std::future<T> run_coroutine_threadsafe(task<T> coro, const event_loop& loop) {
    return run_coroutine_threadsafe(std::move(coro), loop.handle());
}

} // namespace corio

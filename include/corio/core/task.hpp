#pragma once

#include "corio/core/cancelled_error.hpp"
#include "corio/core/detail/frame_pool.hpp"
#include "corio/core/detail/task_header.hpp"

#include <cassert>
#include <coroutine>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace corio {

template <typename T = void>
class task;

namespace detail {

/// The promise part shared by every task<T>. It embeds the task_header so that a task handed to
/// create_task becomes a root task without another allocation.
struct promise_base : task_header {
    /// The frame that awaits this one inline, resumed by symmetric transfer at the end. Null for
    /// a root task, whose end is reported to its scheduler instead.
    std::coroutine_handle<> m_continuation;

    struct initial_awaiter {
        promise_base& p;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        /// A root task cancelled before its first step ends cancelled without running its body,
        /// as asyncio's does.
        void await_resume() const { p.throw_if_cancelled(); }
    };

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <typename Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) const noexcept {
            promise_base& p = h.promise();
            if (p.m_continuation)
                return p.m_continuation;
            p.finish_root();
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    static void* operator new(std::size_t n) { return frame_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_deallocate(p, n); }

    initial_awaiter initial_suspend() noexcept { return initial_awaiter{*this}; }
    final_awaiter final_suspend() noexcept { return {}; }
    /// Stores the exception, and notes whether it is a cancellation without rethrowing it.
    void unhandled_exception() noexcept;

    /// Rethrows the stored exception, marking the outcome as retrieved.
    void rethrow_if_failed() {
        m_retrieved = true;
        if (m_exception)
            std::rethrow_exception(m_exception);
    }

    void finish_root() noexcept;
};

template <typename T>
struct promise final : promise_base {
    promise() noexcept {}
    ~promise() {
        if (m_has_value)
            std::destroy_at(std::addressof(m_value));
    }
    task<T> get_return_object() noexcept;

    template <typename U = T>
    requires std::is_convertible_v<U&&, T>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        std::construct_at(std::addressof(m_value), std::forward<U>(v));
        m_has_value = true;
    }

    /// The result, moved out. Rethrows the task's exception.
    T take_result() {
        rethrow_if_failed();
        return std::move(m_value);
    }
    /// The result, by reference (for handles that may be read several times).
    T& result_ref() {
        rethrow_if_failed();
        return m_value;
    }

  private:
    union {
        T m_value;
    };
    bool m_has_value = false;
};

template <typename T>
struct promise<T&> final : promise_base {
    task<T&> get_return_object() noexcept;
    void return_value(T& v) noexcept { m_value = std::addressof(v); }
    T& take_result() {
        rethrow_if_failed();
        return *m_value;
    }
    T& result_ref() { return take_result(); }

  private:
    T* m_value = nullptr;
};

template <>
struct promise<void> final : promise_base {
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take_result() { rethrow_if_failed(); }
    void result_ref() { rethrow_if_failed(); }
};

} // namespace detail

/// A lazy coroutine that produces a T (or throws).
///
/// Nothing runs until the task is awaited or handed to create_task. `co_await t` runs it inline by
/// symmetric transfer: no trip through the loop, and loops of synchronously completing awaits do
/// not grow the stack. The exception the body throws propagates to the awaiter.
///
/// Cancellation: an inline task is part of the task that awaits it, so it is cancelled with it;
/// the cancelled_error surfaces at whatever suspension point it is parked at.
///
/// Example:
/// @code
/// corio::task<int> answer() { co_return 42; }
/// corio::task<> caller() { int v = co_await answer(); }
/// @endcode
template <typename T>
class [[nodiscard]] task {
  public:
    using promise_type = detail::promise<T>;
    using value_type = T;

    task() noexcept = default;
    explicit task(std::coroutine_handle<promise_type> h) noexcept : m_h(h) {}
    task(task&& o) noexcept : m_h(std::exchange(o.m_h, {})) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            reset();
            m_h = std::exchange(o.m_h, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    /// True if the task holds a coroutine (it was not moved from).
    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(m_h); }

    /// Awaiting runs the task inline. Errors: whatever the body throws; std::logic_error for an
    /// empty task.
    auto operator co_await() && noexcept { return awaiter{m_h}; }
    auto operator co_await() & noexcept { return awaiter{m_h}; }

    /// Gives up ownership of the frame (used by create_task).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(m_h, {}); }

  private:
    struct awaiter {
        std::coroutine_handle<promise_type> h;
        bool await_ready() const {
            if (!h)
                throw std::logic_error("corio::task: awaiting an empty task");
            return false;
        }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) const noexcept {
            h.promise().m_continuation = caller;
            return h;
        }
        T await_resume() const { return h.promise().take_result(); }
    };

    void reset() noexcept {
        if (m_h)
            std::exchange(m_h, {}).destroy();
    }

    std::coroutine_handle<promise_type> m_h;
};

namespace detail {
template <typename T>
task<T> promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<promise<T>>::from_promise(*this));
}
template <typename T>
task<T&> promise<T&>::get_return_object() noexcept {
    return task<T&>(std::coroutine_handle<promise<T&>>::from_promise(*this));
}
inline task<void> promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<promise<void>>::from_promise(*this));
}
} // namespace detail

} // namespace corio

#pragma once

// Helpers for the tests of structured concurrency (gather, wait, as_completed, task_group,
// shield, timeout): children that sleep, fail or record their cancellation on the virtual
// clock, and a recorder for the loop's exception handler.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/time/sleep.hpp"

#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace corio::test {

/// The running loop's time. Precondition: a loop runs on this thread.
inline scheduler::time_point now() {
    return scheduler::current()->time();
}

/// Loop time elapsed since `start`.
inline scheduler::duration since(scheduler::time_point start) {
    return now() - start;
}

/// The what() of the exception in `e`, "" for null or a non-std exception.
inline std::string what_of(const std::exception_ptr& e) {
    if (!e)
        return {};
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return {};
    }
}

/// Records every report that reaches a loop's exception handler. The records are shared with
/// the handler, so the log may be destroyed before the loop (which may still report when it
/// closes).
class exception_log {
  public:
    explicit exception_log(scheduler& s)
        : m_entries(std::make_shared<std::vector<exception_context>>()) {
        s.set_exception_handler([entries = m_entries](scheduler&, const exception_context& c) {
            entries->push_back(c);
        });
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_entries->size(); }
    [[nodiscard]] const exception_context& operator[](std::size_t i) const {
        return m_entries->at(i);
    }
    /// The what() of the exception of report `i`.
    [[nodiscard]] std::string what(std::size_t i) const { return what_of((*this)[i].exception); }

  private:
    std::shared_ptr<std::vector<exception_context>> m_entries;
};

/// Sleeps `d`, then returns `v`.
inline task<int> value_after(scheduler::duration d, int v) {
    co_await sleep(d);
    co_return v;
}

/// Sleeps `d`.
inline task<> void_after(scheduler::duration d) {
    co_await sleep(d);
}

/// Sleeps `d`, then throws std::runtime_error(what).
inline task<> fail_after(scheduler::duration d, std::string what) {
    co_await sleep(d);
    throw std::runtime_error(what);
}

/// Sleeps `d`, then throws std::runtime_error(what); typed int for containers of task<int>.
inline task<int> fail_int_after(scheduler::duration d, std::string what) {
    co_await sleep(d);
    throw std::runtime_error(what);
}

/// Sleeps `d`, then cancels `t`.
inline task<> cancel_after(scheduler::duration d, task_ref t) {
    co_await sleep(d);
    t.cancel();
}

/// What a probe_child saw.
struct child_probe {
    bool started = false;
    bool cancelled = false;  // its sleep threw cancelled_error
    bool cleaned_up = false; // it finished its cleanup after the cancellation
    bool finished = false;   // it ended, by value or by exception
    scheduler::time_point cancelled_at{};
    scheduler::time_point finished_at{};
};

/// Sleeps `d` and returns `v`. If cancelled, it records it, spends `cleanup` (a sleep) cleaning
/// up, and then rethrows the cancellation.
inline task<int> probe_child(scheduler::duration d, int v, scheduler::duration cleanup,
                             child_probe* p) {
    p->started = true;
    std::exception_ptr cancellation;
    try {
        co_await sleep(d);
    } catch (const cancelled_error&) {
        p->cancelled = true;
        p->cancelled_at = now();
        cancellation = std::current_exception();
    }
    if (cancellation) {
        if (cleanup > scheduler::duration::zero())
            co_await sleep(cleanup);
        p->cleaned_up = true;
        p->finished = true;
        p->finished_at = now();
        std::rethrow_exception(cancellation);
    }
    p->finished = true;
    p->finished_at = now();
    co_return v;
}

/// Sleeps `d`; a cancellation makes it throw std::runtime_error(what) instead.
inline task<int> fail_when_cancelled(scheduler::duration d, std::string what) {
    bool cancelled = false;
    try {
        co_await sleep(d);
    } catch (const cancelled_error&) {
        cancelled = true;
    }
    if (cancelled)
        throw std::runtime_error(what);
    co_return 0;
}

} // namespace corio::test

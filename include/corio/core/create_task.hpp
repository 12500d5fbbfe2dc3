#pragma once

#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"

#include <stdexcept>
#include <string_view>
#include <utility>

namespace corio {

/// Schedules `t` on loop `s` as a root task and returns its handle. The task's first step runs
/// on a later iteration of the loop, after the work already queued. Dropping the handle does not
/// stop the task; an exception it ends with is then reported to the loop's exception handler.
///
/// Errors: std::logic_error for an empty task; std::bad_alloc (the task is destroyed unrun).
template <typename T>
task_handle<T> create_task(scheduler& s, task<T> t, std::string_view name = {}) {
    if (!t.valid())
        throw std::logic_error("corio::create_task: empty task");
    auto h = t.release();
    try {
        s.start_task(h.promise(), h, name);
    } catch (...) {
        h.destroy();
        throw;
    }
    task_handle<T> handle(h.promise());
    // start_task gave the loop its reference; the handle took its own above.
    return handle;
}

/// Schedules `t` on the running loop (asyncio's create_task). See the overload above.
///
/// Errors: std::logic_error if no loop is running on this thread.
template <typename T>
task_handle<T> create_task(task<T> t, std::string_view name = {}) {
    scheduler* s = scheduler::current();
    if (!s)
        throw std::logic_error("corio::create_task: no running event loop on this thread");
    return create_task(*s, std::move(t), name);
}

} // namespace corio

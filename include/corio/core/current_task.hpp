#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task_handle.hpp"

#include <stdexcept>
#include <vector>

namespace corio {

/// The task running now on this thread's loop, or an empty reference outside a task
/// (asyncio's current_task).
[[nodiscard]] inline task_ref current_task() noexcept {
    return task_ref(detail::current_task_header());
}

/// The unfinished tasks of the running loop, newest first (asyncio's all_tasks).
/// Errors: std::logic_error if no loop runs on this thread; std::bad_alloc.
[[nodiscard]] inline std::vector<task_ref> all_tasks() {
    scheduler* s = scheduler::current();
    if (!s)
        throw std::logic_error("corio::all_tasks: no running event loop on this thread");
    std::vector<task_ref> out;
    out.reserve(s->task_count());
    for (detail::task_header* t = s->first_task(); t; t = t->m_next_task)
        out.emplace_back(t);
    return out;
}

} // namespace corio

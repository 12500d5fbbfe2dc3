#pragma once

#include "corio/core/create_task.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"

#include <utility>

namespace corio {

/// Awaits the task behind `h` without passing a cancellation on to it (asyncio's shield).
///
/// Cancellation: cancelling the awaiting task makes this throw cancelled_error at once, while
/// the shielded task goes on running; its outcome stays in its handle, and an exception it ends
/// with is reported to the loop's exception handler if nobody retrieves it.
///
/// Errors: the task's exception; cancelled_error if the task itself was cancelled.
template <typename T>
task<T> shield(task_handle<T> h) {
    {
        detail::done_awaiter w(*h.get(), /*forward_cancel=*/false);
        co_await w;
    }
    if constexpr (std::is_void_v<T>)
        h.promise().result_ref();
    else
        co_return h.promise().result_ref();
}

/// Schedules `t` as a task and awaits it shielded from cancellation. See the overload above; the
/// result is moved out, so move-only results work.
template <typename T>
task<T> shield(task<T> t) {
    task_handle<T> h = create_task(std::move(t));
    {
        detail::done_awaiter w(*h.get(), /*forward_cancel=*/false);
        co_await w;
    }
    co_return h.promise().take_result();
}

} // namespace corio

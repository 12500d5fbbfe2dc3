#pragma once

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/detail/task_header.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"

#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace corio {

/// A group of child tasks that is joined as a whole (asyncio's TaskGroup).
///
/// The first child to fail makes the group cancel every other child; join() then waits for all
/// of them and rethrows that first failure. Later failures go to the loop's exception handler,
/// so none is lost. A child that is cancelled is not a failure.
///
/// Unlike asyncio's `async with`, C++ has no asynchronous scope exit, so the group is joined
/// explicitly. A child failure does not interrupt the code between create_task and join(); it
/// surfaces at join(). A group destroyed before join() cancels its unfinished children and
/// reports that through the exception handler; always join.
///
/// Example:
/// @code
/// corio::task_group g;
/// auto a = g.create_task(fetch(1));
/// auto b = g.create_task(fetch(2));
/// co_await g.join();            // rethrows the first failure
/// use(a.result(), b.result());
/// @endcode
class task_group {
  public:
    task_group() = default;
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    ~task_group();

    /// Schedules `t` as a child of the group.
    /// Errors: std::logic_error once the group has been joined or is shutting down after a
    /// failure or cancellation (the task is destroyed unrun); std::logic_error outside a loop.
    template <typename T>
    task_handle<T> create_task(task<T> t, std::string_view name = {}) {
        if (m_joined || m_aborting)
            throw std::logic_error(m_joined ? "corio::task_group: already joined"
                                            : "corio::task_group: shutting down");
        auto child = std::make_unique<child_link>();
        m_children.reserve(m_children.size() + 1); // adopt() must not fail once the task exists
        task_handle<T> h = corio::create_task(std::move(t), name);
        adopt(std::move(child), h);
        return h;
    }

    /// Waits until every child has finished (children created meanwhile included).
    ///
    /// Cancellation: cancelling the joining task cancels every child; join waits for them and
    /// then throws cancelled_error (or the first child failure, if there was one).
    /// Errors: the first child failure.
    [[nodiscard]] auto join() {
        struct awaiter {
            task_group& g;
            bool await_ready() const noexcept { return g.m_pending == 0; }
            bool await_suspend(std::coroutine_handle<> h) { return g.suspend_join(h); }
            void await_resume() { g.finish_join(); }
        };
        return awaiter{*this};
    }

    /// Children not finished yet.
    [[nodiscard]] std::size_t pending() const noexcept { return m_pending; }
    /// Cancels every unfinished child (the group then shuts down as after a failure).
    void cancel() noexcept { abort(); }

  private:
    struct child_link : detail::done_link {
        task_group* group = nullptr;
        task_ref task;
    };
    struct join_node : detail::wait_node {
        task_group* group = nullptr;
    };

    void adopt(std::unique_ptr<child_link> l, const task_ref& t);
    static void on_child_done(detail::done_link* l, detail::task_header& t);
    static void on_join_cancel(detail::wait_node* w, detail::task_header& waiter);
    static const detail::wait_kind s_join_kind;
    bool suspend_join(std::coroutine_handle<> h);
    void finish_join();
    void abort() noexcept;

    std::vector<std::unique_ptr<child_link>> m_children;
    std::size_t m_pending = 0;
    std::exception_ptr m_first_failure;
    detail::task_header* m_joiner = nullptr; // the task parked in join(), if any
    join_node m_join_node;
    bool m_aborting = false;
    bool m_joiner_cancelled = false;
    bool m_joined = false;
};

} // namespace corio

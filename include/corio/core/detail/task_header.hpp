#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <string_view>

namespace corio {
class scheduler;
}

namespace corio::detail {

/// An entry of the ready queue. The queue is an intrusive list so that scheduling a task or
/// a callback never allocates.
struct runnable {
    /// Next entry of the ready queue; meaningful only while queued.
    runnable* m_next_ready = nullptr;
    /// Runs the entry. Set once by the owner of the entry.
    void (*m_run)(runnable*) = nullptr;
};

struct task_header;

struct wait_node;

/// What a kind of suspension point does on cancellation, and what it is called. One constant per
/// awaitable type, so that a wait_node costs a single pointer in each awaiting frame.
struct wait_kind {
    /// Withdraws the pending operation of `task`. It must either wake the task at once with
    /// `task.m_must_cancel` set (the operation is gone), arrange for a later wake-up once the
    /// operation can no longer touch the frame, or forward the request (awaiting another task).
    void (*cancel)(wait_node*, task_header& task);
    /// What the task waits on, for tracing ("sleep", "task", "gather", "recv", ...).
    const char* what;
};

/// The suspension point a task is parked at. Every awaitable that suspends a task provides one,
/// so that `cancel()` can withdraw the operation before the frame that owns its state resumes.
struct wait_node {
    const wait_kind* m_kind = nullptr;
};

/// An observer of a task's completion: awaiters of a task handle, gather, wait, task_group.
/// Links are intrusive so that awaiting a task does not allocate.
struct done_link {
    done_link* m_prev = nullptr;
    done_link* m_next = nullptr;
    /// Called on the loop thread when the task finishes. The link is already unlinked.
    void (*m_on_done)(done_link*, task_header& task) = nullptr;
    /// True while the link is in some task's done list.
    bool m_linked = false;
};

enum class task_state : std::uint8_t {
    created,   ///< Built by create_task, first step not run yet (it is in the ready queue).
    scheduled, ///< In the ready queue.
    running,   ///< On the CPU: its coroutine chain is executing.
    suspended, ///< Parked at a wait_node (m_wait).
    done,      ///< Finished: result or exception stored.
};

/// The state of a root task (one created by create_task). It is embedded in the promise of every
/// `task<T>` so that create_task needs no allocation besides the coroutine frame; for a task that
/// is only ever awaited inline the fields stay at their defaults and cost a few stores.
struct task_header : runnable {
    /// The loop that runs the task. Null for a task that is only awaited inline.
    scheduler* m_sched = nullptr;

    /// Links in the scheduler's list of live root tasks (all_tasks()).
    task_header* m_prev_task = nullptr;
    task_header* m_next_task = nullptr;

    /// The outermost frame of the task: destroyed when the last reference goes.
    std::coroutine_handle<> m_frame;
    /// The innermost suspended frame, resumed when the task is woken. Valid while the state is
    /// created, scheduled or suspended.
    std::coroutine_handle<> m_resume;
    /// Non-null exactly while m_state == suspended.
    wait_node* m_wait = nullptr;

    /// Observers of completion, in registration order: a circular doubly linked ring whose
    /// head is the oldest, so the newest is m_done_head->m_prev (one pointer, O(1) both ways).
    done_link* m_done_head = nullptr;

    /// Owned name set by the user, or null for the default "Task-<id>".
    char* m_name = nullptr;
    std::uint64_t m_id = 0;

    /// References: one while the coroutine has not finished, plus one per handle.
    std::uint32_t m_refs = 0;
    /// Number of cancel() calls not yet matched by uncancel() (asyncio's cancelling()).
    std::uint32_t m_cancel_requests = 0;

    task_state m_state = task_state::created;
    /// A cancellation that could not be delivered at a suspension point yet. The next
    /// suspension point (or the resumption of the current one) throws cancelled_error.
    bool m_must_cancel = false;
    /// True once the outcome has been observed (awaited, result() called, or handed to a
    /// collector); an unobserved failure is reported to the loop's exception handler.
    bool m_retrieved = false;
    /// Set when the task finished with cancelled_error.
    bool m_cancelled = false;
    /// Set by the tracer when it has recorded the task's creation.
    bool m_traced = false;

    /// The exception the task finished with, if any.
    std::exception_ptr m_exception;

    // --- used by awaitables -------------------------------------------------------------

    /// Parks the task at `w`; `h` is the frame to resume. Called from await_suspend.
    void suspend(wait_node& w, std::coroutine_handle<> h) noexcept;
    /// Moves a suspended task to the ready queue. Called by whoever completes the wait.
    void wake() noexcept;
    /// Throws cancelled_error if a cancellation is pending, consuming it. Called by awaitables
    /// from await_resume and before they start an operation.
    void throw_if_cancelled() {
        if (m_must_cancel) [[unlikely]]
            deliver_cancel();
    }
    [[noreturn]] void deliver_cancel();

    // --- task API (asyncio's Task) ------------------------------------------------------

    /// Requests cancellation. Returns false if the task is already done.
    bool cancel() noexcept;
    /// Decrements the count of pending cancel requests and returns the new count.
    std::uint32_t uncancel() noexcept {
        if (m_cancel_requests > 0)
            --m_cancel_requests;
        if (m_cancel_requests == 0)
            m_must_cancel = false;
        return m_cancel_requests;
    }

    /// Replaces the task's name with a copy of `name`; empty restores "Task-<id>".
    /// Errors: std::bad_alloc (the old name is kept).
    void set_name(std::string_view name);

    void add_done_link(done_link& l) noexcept;
    void remove_done_link(done_link& l) noexcept;

    void add_ref() noexcept { ++m_refs; }
    void release() noexcept;
};

/// The task whose coroutine chain is running on this thread, or null. Set by the scheduler
/// around each step; thread_local and constinit so that awaitables read it with one load.
inline constinit thread_local task_header* t_running_task = nullptr;

[[noreturn]] void throw_no_task(const char* what);

/// The task whose coroutine chain is running on this thread's loop, or null.
inline task_header* current_task_header() noexcept {
    return t_running_task;
}
/// Like current_task_header(), but throws std::logic_error naming `what` when there is none:
/// corio's awaitables only work inside a task run by a loop.
inline task_header& this_task(const char* what) {
    if (task_header* t = t_running_task) [[likely]]
        return *t;
    throw_no_task(what);
}

} // namespace corio::detail

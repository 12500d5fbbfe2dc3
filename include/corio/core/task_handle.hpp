#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/task.hpp"

#include <coroutine>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace corio {

/// A reference to a root task of any result type: what current_task() and all_tasks() return.
///
/// Copies share the task. Dropping every reference does not stop the task. A reference must not
/// outlive the event loop that runs the task.
class task_ref {
  public:
    task_ref() noexcept = default;
    explicit task_ref(detail::task_header* t) noexcept : m_t(t) {
        if (m_t)
            m_t->add_ref();
    }
    task_ref(const task_ref& o) noexcept : task_ref(o.m_t) {}
    task_ref(task_ref&& o) noexcept : m_t(std::exchange(o.m_t, nullptr)) {}
    task_ref& operator=(task_ref o) noexcept {
        std::swap(m_t, o.m_t);
        return *this;
    }
    ~task_ref() {
        if (m_t)
            m_t->release();
    }

    [[nodiscard]] explicit operator bool() const noexcept { return m_t != nullptr; }
    friend bool operator==(const task_ref& a, const task_ref& b) noexcept { return a.m_t == b.m_t; }

    /// Requests cancellation: the task's current suspension point (or its next one, if it is
    /// running or queued) throws cancelled_error. If the task awaits another task, the request is
    /// passed on to that task, as in asyncio. Returns false if the task is already done.
    bool cancel() const noexcept { return header().cancel(); }
    /// How many cancel() calls have not been matched by uncancel() (asyncio's cancelling()).
    [[nodiscard]] std::uint32_t cancelling() const noexcept { return header().m_cancel_requests; }
    /// Withdraws one cancellation request and returns the remaining count. When it reaches zero,
    /// a request that has not been delivered yet is dropped too.
    std::uint32_t uncancel() const noexcept { return header().uncancel(); }

    /// True once the task has finished (result, exception or cancellation).
    [[nodiscard]] bool done() const noexcept {
        return header().m_state == detail::task_state::done;
    }
    /// True if the task finished by cancellation.
    [[nodiscard]] bool cancelled() const noexcept { return done() && header().m_cancelled; }
    /// The exception the task finished with (null if it succeeded), marking it retrieved.
    /// Errors: std::logic_error if the task is not done.
    [[nodiscard]] std::exception_ptr exception() const;

    /// The task's name: the one given to create_task or set_name, else "Task-<id>".
    [[nodiscard]] std::string name() const;
    /// Renames the task. Errors: std::bad_alloc.
    void set_name(std::string_view name) const;
    /// A number unique among the tasks of the loop.
    [[nodiscard]] std::uint64_t id() const noexcept { return header().m_id; }

    [[nodiscard]] detail::task_header* get() const noexcept { return m_t; }

  protected:
    detail::task_header& header() const {
        assert(m_t && "corio::task_ref: empty reference");
        return *m_t;
    }
    detail::task_header* m_t = nullptr;
};

namespace detail {

/// Awaits the completion of a root task without touching its result. Parks the awaiting task at
/// a wait_node whose cancellation is forwarded to the awaited task (asyncio's semantics) or, for
/// shield, abandons the wait.
class done_awaiter : wait_node, done_link {
  public:
    done_awaiter(task_header& target, bool forward_cancel) noexcept
        : m_target(target), m_forward(forward_cancel) {
        m_kind = &s_wait_kind;
        m_on_done = &on_done;
    }
    done_awaiter(const done_awaiter&) = delete;
    done_awaiter& operator=(const done_awaiter&) = delete;
    ~done_awaiter() {
        if (m_linked)
            m_target.remove_done_link(*this);
    }

    bool await_ready() const noexcept { return m_target.m_state == task_state::done; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_waiter = &this_task("awaiting a task");
        if (m_waiter == &m_target)
            throw std::logic_error("corio: a task cannot await itself");
        if (m_waiter->m_must_cancel)
            return false;
        m_target.add_done_link(*this);
        m_waiter->suspend(*this, h);
        return true;
    }
    /// Throws cancelled_error if the awaiting task was cancelled and the request stayed with it.
    void await_resume() {
        if (m_waiter)
            m_waiter->throw_if_cancelled();
    }

  private:
    static void on_cancel(wait_node* w, task_header& waiter) {
        auto* self = static_cast<done_awaiter*>(w);
        if (self->m_forward) {
            // The awaiting task stays parked; it wakes when the target finishes, and gets the
            // target's outcome, which is a cancelled_error if the target honours the request.
            self->m_target.cancel();
            return;
        }
        self->m_target.remove_done_link(*self);
        waiter.m_must_cancel = true;
        waiter.wake();
    }
    static void on_done(done_link* l, task_header&) {
        auto* self = static_cast<done_awaiter*>(l);
        self->m_waiter->wake();
    }

    task_header& m_target;
    task_header* m_waiter = nullptr;
    bool m_forward;
    static constexpr wait_kind s_wait_kind{&on_cancel, "task"};
};

} // namespace detail

/// The handle create_task returns (asyncio's Task): await it for the result, cancel it, query it.
///
/// Awaiting: `co_await h` suspends until the task is done and returns its result or rethrows its
/// exception. It may be awaited several times, and from several tasks; the result is copied for
/// each awaiter except the awaiter of an rvalue handle, which receives it by move.
///
/// Cancellation: cancelling the task that awaits `h` cancels the task behind `h` too, and the
/// awaiter keeps waiting for it to finish (use shield() to prevent that).
///
/// Errors when awaited: the task's exception; cancelled_error if it was cancelled.
template <typename T = void>
class task_handle : public task_ref {
  public:
    task_handle() noexcept = default;
    explicit task_handle(detail::promise<T>& p) noexcept : task_ref(&p) {}

    /// The result of a finished task (asyncio's result()). Errors: the task's exception,
    /// cancelled_error, or std::logic_error if it is not done yet.
    decltype(auto) result() const {
        if (!done())
            throw std::logic_error("corio::task_handle::result: the task is not done");
        return promise().result_ref();
    }

    auto operator co_await() const& { return awaiter<false>{promise()}; }
    auto operator co_await() && { return awaiter<true>{promise()}; }

    detail::promise<T>& promise() const noexcept {
        return static_cast<detail::promise<T>&>(header());
    }

  private:
    template <bool Move>
    struct awaiter {
        detail::promise<T>& p;
        detail::done_awaiter inner{p, true};

        bool await_ready() const noexcept { return inner.await_ready(); }
        bool await_suspend(std::coroutine_handle<> h) { return inner.await_suspend(h); }
        decltype(auto) await_resume() {
            inner.await_resume();
            if constexpr (Move && !std::is_void_v<T> && !std::is_reference_v<T>)
                return T(std::move(p.result_ref()));
            else
                return p.result_ref();
        }
    };
};

} // namespace corio

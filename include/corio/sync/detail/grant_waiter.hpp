#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <cassert>
#include <coroutine>
#include <utility>

namespace corio::detail {

/// The awaiter of a primitive whose waiters queue in one FIFO and are woken with a grant: the
/// lock (the lock itself), the semaphore (one unit) and the event (the notification of a set()).
/// It is a sync_waiter in the awaiting frame, so waiting never allocates, and everything it does
/// is inline, so the path that does not wait costs a few loads and stores.
///
/// `Primitive` grants this class friendship and provides:
/// - `waiter_queue m_waiters`: the waiting tasks, oldest first;
/// - `static constexpr const char* s_wait_what`: its name, for errors and traces ("lock");
/// - `bool try_take() noexcept`: true if the caller may go on without waiting, having taken what
///   it waits for (a free lock or unit; a set event lets it through without being taken). It
///   must be false while tasks wait (a free lock or unit has no waiters: release() hands it to
///   the oldest), so that a newcomer never barges past them;
/// - `void give_back() noexcept`: gives back a grant that a cancelled waiter will not use (the
///   lock or unit goes to the next waiter, or back to the primitive); a no-op for the event, whose
///   set() woke everybody.
///
/// A grant is handed over by `m_waiters.grant_front()`, which unlinks the oldest waiter, marks it
/// granted and wakes it; its task resumes later, through the ready queue.
template <typename Primitive>
class grant_waiter : protected sync_waiter {
  public:
    explicit grant_waiter(Primitive& p) noexcept : m_prim(p) { m_kind = &s_wait_kind; }
    grant_waiter(const grant_waiter&) = delete;
    grant_waiter& operator=(const grant_waiter&) = delete;
    /// A frame destroyed while it waits (a loop torn down with pending tasks) leaves the queue.
    ~grant_waiter() { m_prim.m_waiters.remove(*this); }

    /// The fast path: what the caller waits for is taken without suspending, so a pending
    /// cancellation is not delivered here (no suspension point, as in asyncio). m_task stays
    /// null on this path: it marks a wait that did not suspend.
    bool await_ready() {
        task_header& t = this_task(Primitive::s_wait_what);
        if (m_prim.try_take())
            return true;
        m_task = &t;
        return false;
    }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
        if (m_task->m_must_cancel)
            return false; // a pending cancellation throws in await_resume, before queueing
        m_prim.m_waiters.push_back(*this);
        m_task->suspend(*this, h);
        return true;
    }
    void await_resume() { finish(); }

  protected:
    /// Throws cancelled_error if the task was cancelled while it waited, after giving back what
    /// had been handed to it, so that no wake-up is lost.
    void finish() {
        if (m_task && m_task->m_must_cancel) [[unlikely]] {
            if (std::exchange(m_granted, false))
                m_prim.give_back();
            m_task->deliver_cancel();
        }
    }

    Primitive& m_prim;

  private:
    /// Called only while the waiter is queued: once it has been granted, its task is scheduled,
    /// and a cancel() then only sets m_must_cancel, which finish() handles.
    static void on_cancel(wait_node* w, task_header& t) noexcept {
        auto* self = static_cast<grant_waiter*>(static_cast<sync_waiter*>(w));
        assert(self->m_linked);
        self->m_prim.m_waiters.remove(*self);
        t.m_must_cancel = true;
        t.wake();
    }
    static constexpr wait_kind s_wait_kind{&on_cancel, Primitive::s_wait_what};
};

/// The awaiter of `co_await p` and `p.scoped()` for a lock or a semaphore: grant_waiter, then a
/// `Primitive::guard` that holds what was taken. The guard befriends this class.
template <typename Primitive>
class grant_scoped_awaiter : public grant_waiter<Primitive> {
  public:
    using grant_waiter<Primitive>::grant_waiter;
    [[nodiscard]] typename Primitive::guard await_resume() {
        this->finish();
        return typename Primitive::guard(this->m_prim);
    }
};

/// The common part of lock::guard and semaphore::guard: holds one grant of `Primitive` (taken by
/// `co_await p`) and gives it back, with `Primitive::give_back()`, when destroyed. Move-only; a
/// moved-from or released guard holds nothing.
///
/// `Primitive` grants this class friendship and provides `give_back()` and a
/// `[[noreturn]] static void throw_empty_guard()` for release() on an empty guard.
template <typename Primitive>
class grant_guard {
  public:
    grant_guard() noexcept = default;
    grant_guard(grant_guard&& o) noexcept : m_prim(std::exchange(o.m_prim, nullptr)) {}
    grant_guard& operator=(grant_guard&& o) noexcept {
        if (this != &o) {
            reset();
            m_prim = std::exchange(o.m_prim, nullptr);
        }
        return *this;
    }
    grant_guard(const grant_guard&) = delete;
    grant_guard& operator=(const grant_guard&) = delete;
    /// Gives back what the guard still holds: the oldest waiter gets it.
    ~grant_guard() { reset(); }

    /// True while the guard holds what it was given.
    [[nodiscard]] explicit operator bool() const noexcept { return m_prim != nullptr; }

    /// Gives it back early; the guard then holds nothing.
    /// Errors: std::logic_error if the guard holds nothing.
    void release() {
        if (!m_prim) [[unlikely]]
            Primitive::throw_empty_guard();
        reset();
    }

  protected:
    explicit grant_guard(Primitive& p) noexcept : m_prim(&p) {}

  private:
    /// What the guard holds was taken by it, so giving it back cannot exceed a bound.
    void reset() noexcept {
        if (Primitive* p = std::exchange(m_prim, nullptr))
            p->give_back();
    }

    Primitive* m_prim = nullptr;
};

} // namespace corio::detail

#pragma once

#include "corio/core/detail/task_header.hpp"

#include <cassert>
#include <cstddef>

namespace corio::detail {

/// A task parked in a synchronisation primitive. It lives in the awaiter, that is in the awaiting
/// coroutine's frame, so waiting on a lock, event, semaphore or queue never allocates.
///
/// Each primitive's awaiter derives from it and points m_kind at its own wait_kind, whose cancel
/// function unlinks the waiter (or, once the waiter has been granted what it waited for, passes
/// the grant on), so that no wake-up is lost to a cancelled task.
struct sync_waiter : wait_node {
    sync_waiter* m_prev = nullptr;
    sync_waiter* m_next = nullptr;
    /// The parked task; set in await_suspend.
    task_header* m_task = nullptr;
    /// True while the waiter is in a waiter_queue.
    bool m_linked = false;
    /// Set by the primitive when it hands the waiter what it waited for (the lock, a semaphore
    /// unit, a notification) and wakes it. A granted waiter that turns out to be cancelled
    /// before it resumes gives the grant back.
    bool m_granted = false;
};

/// An intrusive FIFO of sync_waiters (oldest first). O(1) push, pop and removal from anywhere,
/// which cancellation needs.
///
/// Invariant: a waiter is in at most one queue, and m_linked says whether it is in one.
class waiter_queue {
  public:
    waiter_queue() noexcept = default;
    waiter_queue(const waiter_queue&) = delete;
    waiter_queue& operator=(const waiter_queue&) = delete;
    ~waiter_queue() { assert(empty()); }

    [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    [[nodiscard]] sync_waiter* front() const noexcept { return m_head; }

    void push_back(sync_waiter& w) noexcept {
        assert(!w.m_linked);
        w.m_prev = m_tail;
        w.m_next = nullptr;
        if (m_tail)
            m_tail->m_next = &w;
        else
            m_head = &w;
        m_tail = &w;
        w.m_linked = true;
        ++m_size;
    }

    /// Unlinks and returns the oldest waiter, or null.
    sync_waiter* pop_front() noexcept {
        sync_waiter* w = m_head;
        if (w)
            remove(*w);
        return w;
    }

    /// Hands the oldest waiter what it waits for (the lock, a semaphore unit, a notification, an
    /// item or slot of a queue): unlinks it, marks it granted and wakes its task. Returns false,
    /// doing nothing, when no task waits.
    bool grant_front() noexcept {
        sync_waiter* w = pop_front();
        if (!w)
            return false;
        w->m_granted = true;
        w->m_task->wake();
        return true;
    }

    /// Unlinks `w` if it is linked (into this queue: the caller knows which one).
    void remove(sync_waiter& w) noexcept {
        if (!w.m_linked)
            return;
        if (w.m_prev)
            w.m_prev->m_next = w.m_next;
        else
            m_head = w.m_next;
        if (w.m_next)
            w.m_next->m_prev = w.m_prev;
        else
            m_tail = w.m_prev;
        w.m_prev = w.m_next = nullptr;
        w.m_linked = false;
        --m_size;
    }

  private:
    sync_waiter* m_head = nullptr;
    sync_waiter* m_tail = nullptr;
    std::size_t m_size = 0;
};

} // namespace corio::detail

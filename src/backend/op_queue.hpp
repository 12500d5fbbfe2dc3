#pragma once

#include "backend/backend.hpp"

namespace corio::detail {

/// A FIFO of waiting operations linked through io_operation::m_backend_next, for the readiness
/// backends (epoll, poll): operations live in their awaiting frames, so queueing one allocates
/// nothing.
///
/// Invariant: tail is the last operation reachable from head (both null when empty), and every
/// queued operation's m_backend_next is the next one (null for the tail).
struct op_queue {
    io_operation* head = nullptr;
    io_operation* tail = nullptr;

    [[nodiscard]] bool empty() const noexcept { return head == nullptr; }

    void push(io_operation* op) noexcept {
        op->m_backend_next = nullptr;
        if (tail)
            tail->m_backend_next = op;
        else
            head = op;
        tail = op;
    }

    /// Unlinks the head; the queue must not be empty.
    io_operation* pop() noexcept {
        io_operation* op = head;
        head = op->m_backend_next;
        if (!head)
            tail = nullptr;
        op->m_backend_next = nullptr;
        return op;
    }

    /// Unlinks `op`; false when it is not in the queue. O(n): queues are short (an fd rarely has
    /// more than one waiter per direction).
    bool remove(io_operation* op) noexcept {
        io_operation* prev = nullptr;
        for (io_operation* p = head; p; prev = p, p = p->m_backend_next) {
            if (p != op)
                continue;
            (prev ? prev->m_backend_next : head) = p->m_backend_next;
            if (tail == p)
                tail = prev;
            p->m_backend_next = nullptr;
            return true;
        }
        return false;
    }
};

} // namespace corio::detail

#include "corio/runtime/detail/remote_queue.hpp"

#include "backend/backend.hpp"

namespace corio::detail {

remote_queue::~remote_queue() {
    close();
}

bool remote_queue::post(std::unique_ptr<remote_call>& c) {
    if (!post(*c))
        return false;
    c.release(); // now owned by the queue, which disposes of it
    return true;
}

bool remote_queue::post(remote_call& c) noexcept {
    bool was_empty = false;
    {
        std::lock_guard lock(m_mutex);
        if (m_closed.load(std::memory_order_relaxed))
            return false;
        c.m_next = nullptr;
        was_empty = m_head == nullptr;
        if (m_tail)
            m_tail->m_next = &c;
        else
            m_head = &c;
        m_tail = &c;
        m_nonempty.store(true, std::memory_order_release);
    }
    // Only the post that makes the inbox non-empty wakes the loop: the loop empties the inbox
    // after every wake-up, so later posts are seen without another syscall.
    if (was_empty)
        m_waker->wake();
    return true;
}

remote_call* remote_queue::take_all() noexcept {
    std::lock_guard lock(m_mutex);
    remote_call* head = m_head;
    m_head = m_tail = nullptr;
    m_nonempty.store(false, std::memory_order_relaxed);
    return head;
}

void remote_queue::close() noexcept {
    remote_call* head = nullptr;
    {
        std::lock_guard lock(m_mutex);
        m_closed.store(true, std::memory_order_release);
        head = m_head;
        m_head = m_tail = nullptr;
        m_nonempty.store(false, std::memory_order_relaxed);
    }
    while (head) {
        remote_call* next = head->m_next;
        head->dispose();
        head = next;
    }
}

} // namespace corio::detail

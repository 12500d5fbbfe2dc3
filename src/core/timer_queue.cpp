#include "corio/core/detail/timer_queue.hpp"

#include <stdexcept>
#include <utility>

namespace corio::detail {

void timer_queue::arm(timer_node& n, rep deadline) {
    if (n.armed())
        cancel(n);
    if (m_heap.size() >= timer_node::not_armed)
        throw std::length_error("corio: too many timers");
    n.m_seq = m_seq++;
    m_heap.push_back(entry{deadline, &n});
    n.m_index = static_cast<std::uint32_t>(m_heap.size() - 1);
    sift_up(n.m_index);
}

void timer_queue::cancel(timer_node& n) noexcept {
    if (!n.armed())
        return;
    remove_at(n.m_index);
}

timer_node* timer_queue::pop_due(rep now) noexcept {
    if (m_heap.empty() || m_heap.front().deadline > now)
        return nullptr;
    timer_node* n = m_heap.front().node;
    remove_at(0);
    return n;
}

void timer_queue::remove_at(std::size_t i) noexcept {
    m_heap[i].node->m_index = timer_node::not_armed;
    const std::size_t last = m_heap.size() - 1;
    if (i != last) {
        m_heap[i] = m_heap[last];
        m_heap[i].node->m_index = static_cast<std::uint32_t>(i);
        m_heap.pop_back();
        // The moved entry came from the bottom, so it usually sinks; it rises only when the
        // removed entry was in another subtree with later deadlines.
        if (i > 0 && before(m_heap[i], m_heap[(i - 1) / 4]))
            sift_up(i);
        else
            sift_down(i);
    } else {
        m_heap.pop_back();
    }
}

void timer_queue::sift_up(std::size_t i) noexcept {
    entry moving = m_heap[i];
    while (i > 0) {
        const std::size_t parent = (i - 1) / 4;
        if (!before(moving, m_heap[parent]))
            break;
        m_heap[i] = m_heap[parent];
        m_heap[i].node->m_index = static_cast<std::uint32_t>(i);
        i = parent;
    }
    m_heap[i] = moving;
    moving.node->m_index = static_cast<std::uint32_t>(i);
}

void timer_queue::sift_down(std::size_t i) noexcept {
    const std::size_t n = m_heap.size();
    entry moving = m_heap[i];
    for (;;) {
        const std::size_t first = 4 * i + 1;
        if (first >= n)
            break;
        std::size_t best = first;
        const std::size_t end = first + 4 < n ? first + 4 : n;
        for (std::size_t c = first + 1; c < end; ++c)
            if (before(m_heap[c], m_heap[best]))
                best = c;
        if (!before(m_heap[best], moving))
            break;
        m_heap[i] = m_heap[best];
        m_heap[i].node->m_index = static_cast<std::uint32_t>(i);
        i = best;
    }
    m_heap[i] = moving;
    moving.node->m_index = static_cast<std::uint32_t>(i);
}

} // namespace corio::detail

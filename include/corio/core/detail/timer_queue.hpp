#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace corio::detail {

/// A timer armed in a timer_queue. Intrusive: it lives in the awaiter or handle that owns it,
/// so arming a timer allocates nothing once the heap's storage has grown.
struct timer_node {
    static constexpr std::uint32_t not_armed = std::numeric_limits<std::uint32_t>::max();

    /// Called on the loop thread when the deadline has passed. The node is already disarmed.
    void (*m_fire)(timer_node*) = nullptr;
    /// Position in the heap, or not_armed. Kept up to date by the queue on every move.
    std::uint32_t m_index = not_armed;
    /// Arming order, to break ties between equal deadlines (compared modulo 2^32).
    std::uint32_t m_seq = 0;

    [[nodiscard]] bool armed() const noexcept { return m_index != not_armed; }
};

/// A 4-ary min-heap of timers ordered by (deadline, arming order).
///
/// Arm and cancel are O(log n); a timer armed and cancelled soon after sits near the bottom, so
/// both touch only a few cache lines even with a million live timers. Entries carry the deadline
/// so that comparisons dereference a node only to break a tie. Entries are 16 bytes, so the four
/// children of a node share one cache line. Timers with equal deadlines fire in the order they
/// were armed, which keeps virtual-clock tests deterministic.
class timer_queue {
  public:
    using rep = std::int64_t; // nanoseconds on the loop's clock

    void arm(timer_node& n, rep deadline);
    void cancel(timer_node& n) noexcept;

    [[nodiscard]] bool empty() const noexcept { return m_heap.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return m_heap.size(); }
    /// The earliest deadline. Precondition: !empty().
    [[nodiscard]] rep next_deadline() const noexcept { return m_heap.front().deadline; }
    /// Removes and returns the earliest timer if its deadline is <= now, else null.
    timer_node* pop_due(rep now) noexcept;
    /// A snapshot of the armed timers, in no particular order (for shutdown).
    [[nodiscard]] std::vector<timer_node*> nodes() const {
        std::vector<timer_node*> out;
        out.reserve(m_heap.size());
        for (const entry& e : m_heap)
            out.push_back(e.node);
        return out;
    }

  private:
    struct entry {
        rep deadline;
        timer_node* node;
    };
    static bool before(const entry& a, const entry& b) noexcept {
        if (a.deadline != b.deadline)
            return a.deadline < b.deadline;
        // Wrap-safe: correct while equal-deadline timers are armed less than 2^31 apart.
        return static_cast<std::int32_t>(a.node->m_seq - b.node->m_seq) < 0;
    }
    void sift_up(std::size_t i) noexcept;
    void sift_down(std::size_t i) noexcept;
    void remove_at(std::size_t i) noexcept;

    // Invariant: m_heap[i].node->m_index == i for every i, and the 4-ary heap property holds.
    std::vector<entry> m_heap;
    std::uint32_t m_seq = 0;
};

} // namespace corio::detail

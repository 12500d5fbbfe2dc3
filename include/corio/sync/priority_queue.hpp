#pragma once

#include "corio/sync/detail/basic_queue.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

namespace corio {

namespace detail {

/// Storage of priority_queue: a binary heap whose top is the smallest item under `Compare`.
template <typename T, typename Compare>
class heap_storage {
  public:
    explicit heap_storage(Compare compare = Compare()) : m_compare(std::move(compare)) {}

    void push(T&& item) {
        m_items.push_back(std::move(item));
        std::push_heap(m_items.begin(), m_items.end(), greater{&m_compare});
    }
    T pop() {
        std::pop_heap(m_items.begin(), m_items.end(), greater{&m_compare});
        T item = std::move(m_items.back());
        m_items.pop_back();
        return item;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

  private:
    // The std heap algorithms keep the largest item on top; with the comparison reversed, the
    // top is the smallest under Compare.
    struct greater {
        Compare* compare;
        bool operator()(const T& a, const T& b) const { return (*compare)(b, a); }
    };

    std::vector<T> m_items;
    Compare m_compare;
};

} // namespace detail

/// A queue for tasks of one event loop that returns the smallest item first (asyncio's
/// PriorityQueue, a min-heap).
///
/// `Compare` is a strict weak ordering, "less than" by default; get returns an item `e` such
/// that `compare(x, e)` holds for no other item `x`, that is the lowest under `Compare`. This is
/// the reverse of std::priority_queue, whose top is the largest: pass std::greater<T> to get the
/// largest first. Items that compare equal leave in no particular order; put a sequence number
/// in the item (as asyncio's documentation suggests with tuples) to keep them first in, first
/// out. Everything else is as for corio::queue: maxsize and backpressure, task_done/join,
/// shutdown, cancellation. `T` may be move-only.
///
/// Example:
/// ```
/// corio::priority_queue<std::pair<int, std::string>> q;
/// q.put_nowait({2, "later"});
/// q.put_nowait({1, "first"});
/// auto [priority, job] = q.get_nowait(); // {1, "first"}
/// ```
template <typename T, typename Compare = std::less<T>>
class priority_queue : public detail::basic_queue<T, detail::heap_storage<T, Compare>> {
  public:
    /// A queue holding at most `maxsize` items (0, the default, means no limit), ordered by
    /// `compare`.
    explicit priority_queue(std::size_t maxsize = 0, Compare compare = Compare())
        : detail::basic_queue<T, detail::heap_storage<T, Compare>>(
              maxsize, detail::heap_storage<T, Compare>(std::move(compare))) {}
};

} // namespace corio

#pragma once

#include "corio/sync/detail/basic_queue.hpp"

#include <cstddef>
#include <utility>
#include <vector>

namespace corio {

namespace detail {

/// Storage of lifo_queue: last in, first out.
template <typename T>
class lifo_storage {
  public:
    void push(T&& item) { m_items.push_back(std::move(item)); }
    T pop() {
        T item = std::move(m_items.back());
        m_items.pop_back();
        return item;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

  private:
    std::vector<T> m_items;
};

} // namespace detail

/// A last in, first out queue (a stack) for tasks of one event loop (asyncio's LifoQueue): get
/// returns the item put most recently. Everything else is as for corio::queue: maxsize and
/// backpressure, task_done/join, shutdown, cancellation. `T` may be move-only.
///
/// Example: `corio::lifo_queue<int> q; q.put_nowait(1); q.put_nowait(2); q.get_nowait(); // 2`
template <typename T>
class lifo_queue : public detail::basic_queue<T, detail::lifo_storage<T>> {
  public:
    /// A queue holding at most `maxsize` items; 0 (the default) means no limit.
    explicit lifo_queue(std::size_t maxsize = 0)
        : detail::basic_queue<T, detail::lifo_storage<T>>(maxsize) {}
};

} // namespace corio

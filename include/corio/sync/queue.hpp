#pragma once

#include "corio/sync/detail/basic_queue.hpp"

#include <cstddef>
#include <deque>
#include <utility>

namespace corio {

namespace detail {

/// Storage of queue: first in, first out.
template <typename T>
class fifo_storage {
  public:
    void push(T&& item) { m_items.push_back(std::move(item)); }
    T pop() {
        T item = std::move(m_items.front());
        m_items.pop_front();
        return item;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

  private:
    std::deque<T> m_items;
};

} // namespace detail

/// A first in, first out queue for tasks of one event loop (asyncio's Queue). Items leave in the
/// order they were put. `T` may be move-only.
///
/// With a maxsize, put waits while the queue is full, which gives backpressure; get waits while
/// it is empty. Waiting putters and getters are served in the order they came; a woken waiter
/// that is cancelled before it resumes passes its turn on, so no item is lost or duplicated.
/// join() waits until every item put has been marked with task_done(); shutdown() ends the
/// queue (asyncio 3.13). See detail::basic_queue for the members, and for the one departure
/// from asyncio: items and slots promised to woken waiters are not given to anyone else.
///
/// Not thread-safe: use it from the tasks of one loop. The queue must outlive every task that
/// waits on it.
///
/// Example:
/// ```
/// corio::task<> produce(corio::queue<int>& q) {
///     for (int i = 0; i < 100; ++i)
///         co_await q.put(i); // waits while 10 items are queued
///     q.shutdown();
/// }
/// corio::task<> consume(corio::queue<int>& q) {
///     try {
///         for (;;) {
///             use(co_await q.get());
///             q.task_done();
///         }
///     } catch (const corio::queue_shutdown&) {
///     }
/// }
/// corio::queue<int> q(10);
/// ```
template <typename T>
class queue : public detail::basic_queue<T, detail::fifo_storage<T>> {
  public:
    /// A queue holding at most `maxsize` items; 0 (the default) means no limit.
    explicit queue(std::size_t maxsize = 0)
        : detail::basic_queue<T, detail::fifo_storage<T>>(maxsize) {}
};

} // namespace corio

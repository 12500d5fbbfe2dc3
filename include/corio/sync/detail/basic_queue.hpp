#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/sync/detail/waiter_queue.hpp"
#include "corio/sync/queue_errors.hpp"

#include <algorithm>
#include <cassert>
#include <coroutine>
#include <cstddef>
#include <stdexcept>
#include <utility>

namespace corio::detail {

/// The one implementation of queue, priority_queue and lifo_queue (asyncio's Queue and its
/// subclasses). `Storage` holds the items and decides the order they leave in; it provides
/// `void push(T&&)`, `T pop()` (removes and returns the next item), `size()` and `clear()`.
///
/// Waking follows asyncio: an item put wakes the oldest waiting getter, which takes an item from
/// the queue when it resumes; a slot freed wakes the oldest waiting putter. A waiter that is
/// cancelled after it was woken but before it resumed passes the wake-up on to the next waiter
/// (asyncio's `_wakeup_next`), so no item and no free slot is left waiting for nobody.
///
/// One departure from asyncio, so that a woken waiter never has to go back to sleep (an awaiter
/// cannot re-suspend from await_resume): each woken getter holds a claim on one item, and each
/// woken putter on one free slot, until it resumes. Other callers do not take claimed items or
/// slots: `get`/`get_nowait` see only the unclaimed items and `put`/`put_nowait` only the
/// unclaimed slots, so waiters are served strictly first come, first served. asyncio lets a task
/// that did not wait take the item first and sends the woken getter back to the end of the line.
/// `size()`, `empty()` and `full()` count the items in the queue, claimed or not, as asyncio's do.
///
/// Invariants (outside an immediate shutdown, which drops claimed items too):
///  - m_claimed_items <= m_items.size(); m_items.size() + m_claimed_slots <= m_maxsize if bounded.
///  - a getter is parked only while no unclaimed item exists; a putter only while no unclaimed
///    slot exists (so a new item or slot always goes to the oldest parked waiter);
///  - a waiter is in at most one of m_getters, m_putters, m_joiners; m_granted marks a woken
///    getter or putter whose claim is still counted.
template <typename T, typename Storage>
class basic_queue {
  public:
    using value_type = T;
    class get_awaiter;
    class put_awaiter;
    class join_awaiter;

    /// A queue holding at most `maxsize` items; 0 means no limit.
    explicit basic_queue(std::size_t maxsize = 0, Storage storage = Storage())
        : m_items(std::move(storage)), m_maxsize(maxsize) {}
    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;
    /// Precondition: no task waits on the queue (a queue must outlive the tasks that use it).
    ~basic_queue() = default;

    /// Puts `item` in the queue, waiting while the queue is full (asyncio's `put`). Completes at
    /// once, without suspending, when a slot is free. Putters that wait are served in order.
    ///
    /// Cancellation: throws cancelled_error; the item is not put (it is destroyed with the
    /// awaiter). A putter woken for a free slot and cancelled before it resumed passes the slot
    /// on to the next waiting putter.
    /// Errors: queue_shutdown if the queue is, or gets, shut down before the item is in;
    /// std::logic_error outside a task; whatever moving the item into the storage throws
    /// (std::bad_alloc).
    ///
    /// Example: `co_await q.put(std::move(job));`
    [[nodiscard]] put_awaiter put(T item) { return put_awaiter(*this, std::move(item)); }

    /// Removes and returns the next item, waiting while there is none (asyncio's `get`).
    /// Completes at once, without suspending, when an item is available. Getters that wait are
    /// served in order.
    ///
    /// Cancellation: throws cancelled_error, and no item is taken. A getter woken for an item
    /// and cancelled before it resumed leaves the item in the queue and passes the wake-up on
    /// to the next waiting getter.
    /// Errors: queue_shutdown when the queue is shut down and no item is left for this getter
    /// (at once after `shutdown(true)`); std::logic_error outside a task.
    ///
    /// Example: `auto job = co_await q.get();`
    [[nodiscard]] get_awaiter get() noexcept { return get_awaiter(*this); }

    /// Puts `item` in the queue without waiting (asyncio's `put_nowait`), waking the oldest
    /// waiting getter.
    ///
    /// Errors: queue_shutdown after shutdown(); queue_full when no slot is free (slots promised
    /// to woken putters are not free); on an error the item is destroyed.
    void put_nowait(T item) { insert(std::move(item)); }

    /// Removes and returns the next item without waiting (asyncio's `get_nowait`), waking the
    /// oldest waiting putter.
    ///
    /// Errors: queue_empty when no item is available (items promised to woken getters are not);
    /// queue_shutdown instead when the queue is also shut down.
    T get_nowait() { return take(); }

    /// Marks one item taken earlier as processed (asyncio's `task_done`). When every item put
    /// has been marked, the tasks waiting in join() wake.
    ///
    /// Errors: std::logic_error if called more times than items were put (asyncio's ValueError).
    void task_done() {
        if (m_unfinished == 0)
            throw std::logic_error("corio: queue task_done() called more times than items put");
        if (--m_unfinished == 0)
            wake_joiners();
    }

    /// Waits until every item put has been marked with task_done() (asyncio's `join`).
    /// Completes at once when none is outstanding.
    ///
    /// Cancellation: throws cancelled_error; nothing is lost (joiners wake all together).
    /// Errors: std::logic_error outside a task.
    [[nodiscard]] join_awaiter join() noexcept { return join_awaiter(*this); }

    /// Shuts the queue down (asyncio 3.13's `shutdown`). put and put_nowait then throw
    /// queue_shutdown; get and get_nowait keep returning the items left and throw queue_shutdown
    /// once none is. Every task waiting in put or get wakes, to take what is left or to throw.
    ///
    /// With `immediate`, the items left are dropped too: each counts as done for join(), which
    /// returns once no other item is outstanding, and every getter throws queue_shutdown.
    void shutdown(bool immediate = false) noexcept {
        m_shutdown = true;
        if (immediate) {
            const std::size_t dropped = m_items.size();
            m_items.clear();
            m_unfinished -= std::min(m_unfinished, dropped);
            if (m_unfinished == 0)
                wake_joiners();
        }
        // Woken without a claim: on resume each takes an unclaimed item if one is left,
        // else throws queue_shutdown.
        while (sync_waiter* w = m_getters.pop_front())
            w->m_task->wake();
        while (sync_waiter* w = m_putters.pop_front())
            w->m_task->wake();
    }

    /// The number of items in the queue (asyncio's `qsize`).
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    /// The number of items in the queue: asyncio's name for size().
    [[nodiscard]] std::size_t qsize() const noexcept { return m_items.size(); }
    /// True if the queue holds no item.
    [[nodiscard]] bool empty() const noexcept { return m_items.size() == 0; }
    /// True if the queue is bounded and holds maxsize() items.
    [[nodiscard]] bool full() const noexcept {
        return m_maxsize != 0 && m_items.size() >= m_maxsize;
    }
    /// The bound given to the constructor; 0 means unbounded.
    [[nodiscard]] std::size_t maxsize() const noexcept { return m_maxsize; }

    /// The awaiter of get(). Its state lives in the awaiting frame: a blocked get allocates
    /// nothing.
    class get_awaiter : sync_waiter {
      public:
        explicit get_awaiter(basic_queue& q) noexcept : m_queue(q) { m_kind = &s_wait_kind; }
        get_awaiter(const get_awaiter&) = delete;
        get_awaiter& operator=(const get_awaiter&) = delete;
        ~get_awaiter() {
            // Only if the frame dies while parked or while woken and not yet resumed.
            m_queue.m_getters.remove(*this);
            if (m_granted) {
                --m_queue.m_claimed_items;
                m_queue.pass_on_item();
            }
        }

        bool await_ready() const noexcept { return m_queue.item_available(); }
        bool await_suspend(std::coroutine_handle<> h) {
            m_task = &this_task("queue get");
            if (m_queue.m_shutdown || m_task->m_must_cancel)
                return false; // await_resume throws
            m_queue.m_getters.push_back(*this);
            m_task->suspend(*this, h);
            return true;
        }
        T await_resume() {
            if (m_withdrawn)
                m_task->deliver_cancel();
            if (m_granted) {
                m_granted = false;
                --m_queue.m_claimed_items;
            }
            // m_task is null when await_ready found an item: nothing was awaited.
            if (m_task && m_task->m_must_cancel) {
                // The item this getter was woken for (if any) stays for the next one.
                m_queue.pass_on_item();
                m_task->deliver_cancel();
            }
            return m_queue.take();
        }

      private:
        friend class basic_queue;
        static void on_cancel(wait_node* w, task_header& t) noexcept {
            auto* self = static_cast<get_awaiter*>(w);
            self->m_queue.m_getters.remove(*self);
            self->m_withdrawn = true;
            t.m_must_cancel = true;
            t.wake();
        }
        static constexpr wait_kind s_wait_kind{&on_cancel, "queue get"};

        basic_queue& m_queue;
        /// Set when a cancellation withdrew the wait: it throws cancelled_error even if the
        /// request was withdrawn (uncancel) before the task resumed.
        bool m_withdrawn = false;
    };

    /// The awaiter of put(). It holds the item until it is in the queue; its state lives in the
    /// awaiting frame.
    class put_awaiter : sync_waiter {
      public:
        put_awaiter(basic_queue& q, T&& item) : m_queue(q), m_item(std::move(item)) {
            m_kind = &s_wait_kind;
        }
        put_awaiter(const put_awaiter&) = delete;
        put_awaiter& operator=(const put_awaiter&) = delete;
        ~put_awaiter() {
            m_queue.m_putters.remove(*this);
            if (m_granted) {
                --m_queue.m_claimed_slots;
                m_queue.pass_on_slot();
            }
        }

        bool await_ready() const noexcept { return m_queue.m_shutdown || m_queue.slot_available(); }
        bool await_suspend(std::coroutine_handle<> h) {
            m_task = &this_task("queue put");
            if (m_task->m_must_cancel)
                return false;
            m_queue.m_putters.push_back(*this);
            m_task->suspend(*this, h);
            return true;
        }
        void await_resume() {
            if (m_withdrawn)
                m_task->deliver_cancel();
            if (m_granted) {
                m_granted = false;
                --m_queue.m_claimed_slots;
            }
            if (m_task && m_task->m_must_cancel) {
                // The slot this putter was woken for (if any) goes to the next one.
                m_queue.pass_on_slot();
                m_task->deliver_cancel();
            }
            m_queue.insert(std::move(m_item));
        }

      private:
        friend class basic_queue;
        static void on_cancel(wait_node* w, task_header& t) noexcept {
            auto* self = static_cast<put_awaiter*>(w);
            self->m_queue.m_putters.remove(*self);
            self->m_withdrawn = true;
            t.m_must_cancel = true;
            t.wake();
        }
        static constexpr wait_kind s_wait_kind{&on_cancel, "queue put"};

        basic_queue& m_queue;
        bool m_withdrawn = false;
        T m_item;
    };

    /// The awaiter of join(); its state lives in the awaiting frame.
    class join_awaiter : sync_waiter {
      public:
        explicit join_awaiter(basic_queue& q) noexcept : m_queue(q) { m_kind = &s_wait_kind; }
        join_awaiter(const join_awaiter&) = delete;
        join_awaiter& operator=(const join_awaiter&) = delete;
        ~join_awaiter() { m_queue.m_joiners.remove(*this); }

        bool await_ready() const noexcept { return m_queue.m_unfinished == 0; }
        bool await_suspend(std::coroutine_handle<> h) {
            m_task = &this_task("queue join");
            if (m_task->m_must_cancel)
                return false;
            m_queue.m_joiners.push_back(*this);
            m_task->suspend(*this, h);
            return true;
        }
        void await_resume() {
            if (m_withdrawn)
                m_task->deliver_cancel();
            if (m_task)
                m_task->throw_if_cancelled();
        }

      private:
        friend class basic_queue;
        static void on_cancel(wait_node* w, task_header& t) noexcept {
            auto* self = static_cast<join_awaiter*>(w);
            self->m_queue.m_joiners.remove(*self);
            self->m_withdrawn = true;
            t.m_must_cancel = true;
            t.wake();
        }
        static constexpr wait_kind s_wait_kind{&on_cancel, "queue join"};

        basic_queue& m_queue;
        /// Set when a cancellation withdrew the wait: it throws cancelled_error even if the
        /// request was withdrawn (uncancel) before the task resumed.
        bool m_withdrawn = false;
    };

  private:
    /// True if an item is there that no woken getter has claimed.
    [[nodiscard]] bool item_available() const noexcept { return m_items.size() > m_claimed_items; }
    /// True if a slot is free that no woken putter has claimed.
    [[nodiscard]] bool slot_available() const noexcept {
        return m_maxsize == 0 || m_items.size() + m_claimed_slots < m_maxsize;
    }

    /// Adds an item for put/put_nowait and hands it to the oldest waiting getter.
    void insert(T&& item) {
        if (m_shutdown)
            throw queue_shutdown();
        if (!slot_available())
            throw queue_full();
        m_items.push(std::move(item));
        ++m_unfinished;
        wake_getter();
    }

    /// Removes the next unclaimed item for get/get_nowait and hands the freed slot to the oldest
    /// waiting putter.
    T take() {
        if (!item_available()) {
            if (m_shutdown)
                throw queue_shutdown();
            throw queue_empty();
        }
        T item = m_items.pop();
        wake_putter();
        return item;
    }

    /// Wakes the oldest parked getter, if any, with a claim on an item. Precondition: an
    /// unclaimed item exists.
    void wake_getter() noexcept {
        if (m_getters.grant_front())
            ++m_claimed_items;
    }
    /// Wakes the oldest parked putter, if any, with a claim on a slot, when one is free.
    void wake_putter() noexcept {
        if (slot_available() && m_putters.grant_front())
            ++m_claimed_slots;
    }
    /// A woken getter gave its claim back: the next getter gets the wake-up (_wakeup_next).
    void pass_on_item() noexcept {
        if (item_available())
            wake_getter();
    }
    /// A woken putter gave its claim back: the next putter gets the wake-up.
    void pass_on_slot() noexcept { wake_putter(); }

    void wake_joiners() noexcept {
        while (sync_waiter* w = m_joiners.pop_front())
            w->m_task->wake();
    }

    Storage m_items;
    std::size_t m_maxsize;
    /// Items put and not yet marked by task_done() (asyncio's _unfinished_tasks).
    std::size_t m_unfinished = 0;
    /// Woken getters that have not resumed yet; each will take one item.
    std::size_t m_claimed_items = 0;
    /// Woken putters that have not resumed yet; each will fill one slot.
    std::size_t m_claimed_slots = 0;
    waiter_queue m_getters;
    waiter_queue m_putters;
    waiter_queue m_joiners;
    bool m_shutdown = false;
};

} // namespace corio::detail

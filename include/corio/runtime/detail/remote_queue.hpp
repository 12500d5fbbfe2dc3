#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <utility>

namespace corio::detail {

class waker;

/// A call posted to a loop from another thread.
struct remote_call {
    remote_call() = default;
    remote_call(const remote_call&) = delete;
    remote_call& operator=(const remote_call&) = delete;
    virtual ~remote_call() = default;
    virtual void run() = 0;
    /// Called once the queue is done with the call: after run(), or instead of it when the loop
    /// closes with the call still queued. The default deletes the call; an intrusive call that
    /// lives on (a to_thread job, reference-counted between a worker and an awaiter) overrides
    /// it to drop the queue's reference instead.
    virtual void dispose() noexcept { delete this; }
    remote_call* m_next = nullptr;
};

template <typename F>
struct remote_call_impl final : remote_call {
    // A template so that an lvalue callable is copied (F is the decayed type).
    template <typename G>
    explicit remote_call_impl(G&& f) : m_fn(std::forward<G>(f)) {}
    void run() override { m_fn(); }
    F m_fn;
};

/// The thread-safe inbox of a loop, shared between the loop and its loop_handles so that a
/// handle used after the loop has closed gets an error instead of a dangling pointer.
class remote_queue {
  public:
    explicit remote_queue(std::shared_ptr<waker> w) noexcept : m_waker(std::move(w)) {}
    remote_queue(const remote_queue&) = delete;
    remote_queue& operator=(const remote_queue&) = delete;
    ~remote_queue();

    /// Appends `c` and wakes the loop if the inbox was empty. Returns false (and leaves `c` with
    /// the caller) if the loop has closed. Thread-safe.
    bool post(std::unique_ptr<remote_call>& c);
    /// The same for an intrusive call: on success the queue holds `c` until it calls
    /// `c.dispose()` (after running it, or unrun when the loop closes). Returns false, leaving
    /// `c` untouched, if the loop has closed. Thread-safe.
    bool post(remote_call& c) noexcept;
    /// Takes every posted call, oldest first, as a list linked through m_next. Loop thread.
    remote_call* take_all() noexcept;
    /// Whether take_all() would return something, without the lock. Loop thread. A post()
    /// sets the flag before it wakes the loop, so a loop that asks after the wake-up sees it.
    [[nodiscard]] bool maybe_pending() const noexcept {
        return m_nonempty.load(std::memory_order_acquire);
    }
    /// Refuses further posts and destroys the calls that were never run.
    void close() noexcept;
    /// Whether close() has run. Thread-safe, and lock-free: transports ask it before each
    /// queued send, to know whether their loop's backend is still there.
    [[nodiscard]] bool closed() const noexcept { return m_closed.load(std::memory_order_acquire); }

  private:
    mutable std::mutex m_mutex;
    // Guarded by m_mutex.
    remote_call* m_head = nullptr;
    remote_call* m_tail = nullptr;
    // Written under m_mutex (so a post() either lands before close() or is refused); read
    // without it by closed().
    std::atomic<bool> m_closed{false};
    // Mirrors m_head != nullptr: written under m_mutex (release), read without it (acquire).
    std::atomic<bool> m_nonempty{false};
    std::shared_ptr<waker> m_waker;
};

} // namespace corio::detail

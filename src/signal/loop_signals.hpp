#pragma once

#include "corio/runtime/event_loop.hpp"

#include "sys/posix/unique_fd.hpp"

#include <array>
#include <cstdint>
#include <functional>

namespace corio::detail {

/// Highest signal number corio handles (Linux: 64, SIGRTMAX).
inline constexpr int max_signal = 64;

/// Something in a loop told about signals: a signal_set, or the SIGCHLD child watcher of
/// process/. Intrusive, so that the loop's list never allocates per listener.
class signal_listener {
  public:
    /// Called on the loop thread for each signal of `mask` that arrived (coalesced as the
    /// kernel coalesces a pending signal).
    virtual void on_signal(int sig) noexcept = 0;
    /// Called when the loop's signal machinery goes (the loop closes): the listener is unlinked
    /// and must not use the loop_signals any more.
    virtual void detached() noexcept = 0;

    /// The signals this listener wants (bit sig - 1); set before add_listener.
    std::uint64_t m_mask = 0;
    signal_listener* m_prev = nullptr;
    signal_listener* m_next = nullptr;

  protected:
    ~signal_listener() = default;
};

/// The signal machinery of one loop (a loop_extension, created at first use).
///
/// How a signal gets to the loop: corio installs one process-wide sigaction handler for each
/// signal some loop listens to. The handler is async-signal-safe: it marks the signal pending
/// in the table slot of every loop that listens to it (a lock-free atomic bit mask) and writes to
/// that loop's eventfd; nothing else. The loop watches its eventfd with add_reader and runs the
/// handlers and wakes the signal_sets from there, on the loop thread, like any callback. Because
/// the handler is process-wide, the signal may be delivered to any thread of the process: no
/// signal mask needs to be set anywhere (unlike signalfd, which needs the signal blocked in every
/// thread).
///
/// Closing a slot clears it and then waits for handlers running on other threads to leave (a
/// counter of handlers in progress), so no handler ever writes to a closed (or reused) fd.
///
/// Up to 64 loops of a process can listen to signals at the same time.
class loop_signals final : public loop_extension {
  public:
    /// The instance of `loop`, created at first use.
    /// Errors: std::system_error (eventfd); std::runtime_error when 64 loops already listen;
    /// std::logic_error if the loop is closed.
    static loop_signals& of(event_loop& loop);
    /// The instance of `loop`, or null if it has none.
    static loop_signals* find(event_loop& loop) noexcept;

    explicit loop_signals(event_loop& loop);
    ~loop_signals() override;

    /// add_signal_handler: replaces the callback of `sig` if it has one.
    /// Errors: std::invalid_argument for a signal corio cannot handle; std::system_error.
    void set_handler(int sig, std::function<void()> fn);
    bool remove_handler(int sig) noexcept;

    /// Listeners: subscribe to each signal of l.m_mask. Errors: as set_handler (nothing is
    /// subscribed then).
    void add_listener(signal_listener& l);
    void remove_listener(signal_listener& l) noexcept;

    void on_close() noexcept override;

    /// Throws std::invalid_argument unless corio can handle `sig`.
    static void check_signal(int sig);

  private:
    void subscribe(int sig);
    void unsubscribe(int sig) noexcept;
    void dispatch() noexcept;
    void shut() noexcept;

    event_loop& m_loop;
    int m_slot = -1;
    sys::unique_fd m_efd;
    bool m_watching = false;
    std::array<std::function<void()>, max_signal + 1> m_handlers{};
    // Subscriptions of this loop per signal: a handler and each listener count one.
    std::array<std::uint32_t, max_signal + 1> m_uses{};
    signal_listener* m_listeners = nullptr;
};

} // namespace corio::detail

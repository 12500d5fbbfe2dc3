#pragma once

#include "corio/process/process.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include "backend/backend.hpp"
#include "signal/loop_signals.hpp"
#include "sys/posix/unique_fd.hpp"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace corio::detail {

class child_reaper;

/// One child of a loop: its pid, its pidfd (if the kernel has them), its status once reaped,
/// and the tasks waiting for it. Shared by the process object, the wait() awaiters and the
/// loop's reaper (which holds it until the child is reaped).
class child_state {
  public:
    child_state(int pid, sys::unique_fd pidfd) noexcept;
    child_state(const child_state&) = delete;
    child_state& operator=(const child_state&) = delete;
    ~child_state();

    /// Records the spawned child (the state is made before the spawn, so that nothing can fail
    /// between the spawn and the reaper taking the child).
    void started(int pid, sys::unique_fd pidfd) noexcept {
        m_pid = pid;
        m_pidfd = std::move(pidfd);
        m_poll.op.m_fd = m_pidfd.get();
    }

    [[nodiscard]] int pid() const noexcept { return m_pid; }
    [[nodiscard]] std::optional<int> returncode() const noexcept { return m_returncode; }
    [[nodiscard]] int pidfd() const noexcept { return m_pidfd.get(); }
    waiter_queue& waiters() noexcept { return m_waiters; }

    /// Tries waitpid(pid, WNOHANG): true once the child is reaped (now or before). Records the
    /// status and wakes the waiters.
    bool try_reap() noexcept;
    /// Sends `sig` (pidfd_send_signal, else kill); nothing once reaped.
    void send_signal(int sig);

  private:
    friend class child_reaper;
    struct poll_slot {
        io_operation op;
        child_state* self = nullptr;
    };

    int m_pid;
    sys::unique_fd m_pidfd;
    std::optional<int> m_returncode;
    waiter_queue m_waiters;
    poll_slot m_poll;
    bool m_polling = false;
    /// Handed to the background reaper when the loop closed: never signalled again (its pid
    /// may be reused once that thread reaps it).
    bool m_abandoned = false;
    child_reaper* m_reaper = nullptr;
};

/// The reaper of one loop (a loop_extension): holds every child of the loop that has not been
/// reaped, and reaps each as it exits, through a poll of its pidfd (a pidfd is readable once
/// the child has exited), or, without pidfds, on SIGCHLD (waitpid(pid, WNOHANG) for each of
/// the loop's children).
///
/// At loop close, the children still running are handed to a detached thread that waits for
/// them (so none becomes a zombie), and the waiting is over for the loop.
class child_reaper final : public loop_extension, signal_listener {
  public:
    /// The reaper of `loop`, created at first use. Errors: std::logic_error if the loop is
    /// closed; std::bad_alloc.
    static child_reaper& of(event_loop& loop);

    explicit child_reaper(event_loop& loop) noexcept : m_loop(loop) {}
    ~child_reaper() override;

    /// Makes room for one more child, so that adopt() cannot fail to record it.
    /// Errors: std::bad_alloc.
    void reserve_one() { m_children.reserve(m_children.size() + 1); }

    /// Takes `c`, just spawned, and watches it: through its pidfd, else (no pidfd, or the
    /// backend cannot watch it) through SIGCHLD. Never fails after reserve_one(): a child that
    /// cannot be watched at all (SIGCHLD cannot be handled) is reported to the loop's exception
    /// handler and reaped when the loop closes.
    void adopt(const std::shared_ptr<child_state>& c) noexcept;

    void on_close() noexcept override;

    /// The completion of a child's pidfd poll.
    static void on_pidfd_ready(io_operation* op) noexcept;

    /// False when the test override CORIO_CHILD_WATCHER=sigchld asks for the SIGCHLD watcher,
    /// or once pidfd_open was found missing.
    static bool use_pidfd() noexcept;
    static void pidfd_missing() noexcept;
    /// For tests: children spawned from now on use the SIGCHLD watcher (true) or pidfds again.
    static void force_sigchld_watcher(bool on) noexcept;

  private:
    void on_signal(int sig) noexcept override;
    void detached() noexcept override;
    void reaped(child_state& c) noexcept;
    void arm(child_state& c);

    event_loop& m_loop;
    std::vector<std::shared_ptr<child_state>> m_children;
    bool m_listening = false;
    bool m_closed = false;
};

} // namespace corio::detail

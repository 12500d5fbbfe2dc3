#include "process/child_reaper.hpp"

#include "sys/posix/errors.hpp"
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

namespace corio::detail {

namespace {

const void* const key = &key;

// Set once pidfd_open reported ENOSYS (or the environment asks for the SIGCHLD watcher).
std::atomic<bool> g_pidfd_missing{false};
// Set by tests of the SIGCHLD watcher.
std::atomic<bool> g_force_sigchld{false};

int status_to_returncode(int status) noexcept {
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return 255;
}

/// Reaps, on a thread of its own, the children a closing loop still had: each is waited for
/// when it exits, so none stays a zombie. With pidfds they are polled together; without, they
/// are waited for one after the other.
void reap_in_background(std::vector<std::pair<int, int>> children) noexcept {
    try {
        std::thread([children = std::move(children)]() mutable {
            for (;;) {
                std::vector<pollfd> fds;
                for (auto& [pid, pidfd] : children) {
                    if (pid > 0 && pidfd >= 0)
                        fds.push_back(pollfd{pidfd, POLLIN, 0});
                }
                if (fds.empty())
                    break;
                if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
                    break;
                for (auto& [pid, pidfd] : children) {
                    if (pid <= 0 || pidfd < 0)
                        continue;
                    int st = 0;
                    const pid_t r = ::waitpid(pid, &st, WNOHANG);
                    if (r == pid || (r < 0 && errno == ECHILD)) {
                        ::close(pidfd);
                        pidfd = -1;
                        pid = 0;
                    }
                }
            }
            for (auto& [pid, pidfd] : children) {
                if (pid > 0) {
                    int st = 0;
                    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
                    }
                }
                if (pidfd >= 0)
                    ::close(pidfd);
            }
        }).detach();
    } catch (...) {
        // No thread: the children become zombies when they exit; their pidfds are closed.
        for (auto& [pid, pidfd] : children)
            if (pidfd >= 0)
                ::close(pidfd);
    }
}

} // namespace

child_state::child_state(int pid, sys::unique_fd pidfd) noexcept
    : m_pid(pid), m_pidfd(std::move(pidfd)) {
    m_poll.self = this;
    m_poll.op.m_kind = io_kind::poll_readable;
    m_poll.op.m_fd = m_pidfd.get();
    m_poll.op.m_complete = &child_reaper::on_pidfd_ready;
}

child_state::~child_state() {
    // The reaper cancels the poll before it lets go of a child; waiters hold a reference.
    while (m_waiters.pop_front()) {
    }
}

bool child_state::try_reap() noexcept {
    if (m_returncode)
        return true;
    int status = 0;
    pid_t r;
    do
        r = ::waitpid(m_pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    // ECHILD: someone else reaped it (waitpid(-1) elsewhere, SIGCHLD ignored); asyncio reports
    // 255 then too.
    m_returncode = r == m_pid ? status_to_returncode(status) : 255;
    while (sync_waiter* w = m_waiters.pop_front()) {
        w->m_granted = true;
        w->m_task->wake();
    }
    return true;
}

void child_state::send_signal(int sig) {
    if (m_returncode || m_abandoned)
        return;
    if (m_pidfd) {
        if (::syscall(SYS_pidfd_send_signal, m_pidfd.get(), sig, nullptr, 0) == 0)
            return;
        if (errno != ENOSYS)
            sys::throw_last_errno("pidfd_send_signal");
    }
    if (::kill(m_pid, sig) != 0)
        sys::throw_last_errno("kill");
}

bool child_reaper::use_pidfd() noexcept {
    static const bool forced_sigchld = [] {
        const char* v = std::getenv("CORIO_CHILD_WATCHER");
        return v && std::strcmp(v, "sigchld") == 0;
    }();
    return !forced_sigchld && !g_pidfd_missing.load(std::memory_order_relaxed) &&
           !g_force_sigchld.load(std::memory_order_relaxed);
}

void child_reaper::force_sigchld_watcher(bool on) noexcept {
    g_force_sigchld.store(on, std::memory_order_relaxed);
}

void child_reaper::pidfd_missing() noexcept {
    g_pidfd_missing.store(true, std::memory_order_relaxed);
}

child_reaper& child_reaper::of(event_loop& loop) {
    if (loop_extension* e = loop.find_extension(key))
        return static_cast<child_reaper&>(*e);
    return static_cast<child_reaper&>(
        loop.add_extension(key, std::make_unique<child_reaper>(loop)));
}

child_reaper::~child_reaper() {
    on_close();
}

void child_reaper::adopt(const std::shared_ptr<child_state>& c) noexcept {
    // Recorded first (room was reserved): from here the child is reaped at close at the latest.
    m_children.push_back(c);
    c->m_reaper = this;
    if (c->m_pidfd) {
        try {
            arm(*c);
            return;
        } catch (...) {
            // The backend cannot watch the pidfd (out of memory, max_user_watches): the SIGCHLD
            // watcher reaps this child instead.
        }
    }
    try {
        if (!m_listening) {
            m_mask = std::uint64_t{1} << (SIGCHLD - 1);
            loop_signals::of(m_loop).add_listener(*this);
            m_listening = true;
        }
    } catch (...) {
        m_loop.call_exception_handler(exception_context{
            "corio: cannot watch a child process (it is reaped when the loop closes)",
            std::current_exception(),
            {}});
    }
    // It may have exited before SIGCHLD was handled.
    if (c->try_reap())
        reaped(*c);
}

void child_reaper::arm(child_state& c) {
    // A poll never completes inside submit(): the completion comes from the loop's wait.
    m_loop.io_backend().submit(c.m_poll.op);
    c.m_polling = true;
}

void child_reaper::on_pidfd_ready(io_operation* op) noexcept {
    child_state& c = *reinterpret_cast<child_state::poll_slot*>(op)->self;
    c.m_polling = false;
    if (!c.m_reaper)
        return;
    if (c.try_reap()) {
        c.m_reaper->reaped(c);
        return;
    }
    // A spurious report (cannot happen for a pidfd, which is readable only once the child has
    // exited): watch again.
    try {
        c.m_reaper->arm(c);
    } catch (...) {
    }
}

void child_reaper::reaped(child_state& c) noexcept {
    if (c.m_pidfd) {
        if (c.m_polling)
            m_loop.io_backend().cancel(c.m_poll.op);
        c.m_polling = false;
        m_loop.io_backend().forget_fd(c.m_pidfd.get());
        c.m_pidfd.reset();
    }
    c.m_reaper = nullptr;
    auto it = std::find_if(m_children.begin(), m_children.end(),
                           [&](const std::shared_ptr<child_state>& p) { return p.get() == &c; });
    if (it != m_children.end()) {
        // Last: this may destroy `c` (nobody else holds it).
        std::shared_ptr<child_state> keep = std::move(*it);
        *it = std::move(m_children.back());
        m_children.pop_back();
    }
}

void child_reaper::on_signal(int) noexcept {
    // SIGCHLD: some child exited, perhaps one of ours. Copied: reaping edits the list.
    std::vector<std::shared_ptr<child_state>> children;
    try {
        children = m_children;
    } catch (...) {
        return; // out of memory: the next SIGCHLD (or the loop's close) reaps them
    }
    for (const auto& c : children)
        if (c->try_reap())
            reaped(*c);
}

void child_reaper::detached() noexcept {
    m_listening = false;
}

void child_reaper::on_close() noexcept {
    if (m_closed)
        return;
    m_closed = true;
    if (m_listening) {
        if (loop_signals* s = loop_signals::find(m_loop))
            s->remove_listener(*this);
        m_listening = false;
    }
    std::vector<std::pair<int, int>> running;
    for (const auto& c : m_children) {
        if (c->m_polling)
            m_loop.io_backend().cancel(c->m_poll.op);
        c->m_polling = false;
        c->m_reaper = nullptr;
        if (c->m_pidfd)
            m_loop.io_backend().forget_fd(c->m_pidfd.get());
        if (c->try_reap()) {
            c->m_pidfd.reset();
            continue;
        }
        c->m_abandoned = true;
        try {
            running.emplace_back(c->m_pid, c->m_pidfd.release());
        } catch (...) {
        }
    }
    m_children.clear();
    if (!running.empty())
        reap_in_background(std::move(running));
}

} // namespace corio::detail

#include "corio/runtime/run.hpp"

#include "backend/backend.hpp"
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <vector>

namespace corio::detail {

namespace {

// State shared with the interrupt handler (SIGINT, and SIGTERM when asked). Only lock-free
// atomics and async-signal-safe calls are used there: the handler sets the flag, restores the
// default action (so that a second Ctrl-C kills a program that ignores cancellation) and wakes
// the loop, which does the real work.
std::atomic<bool> g_interrupted{false};
std::atomic<waker*> g_interrupt_waker{nullptr};

void on_interrupt(int sig) {
    g_interrupted.store(true, std::memory_order_relaxed);
    ::signal(sig, SIG_DFL);
    if (waker* w = g_interrupt_waker.load(std::memory_order_acquire))
        w->wake();
}

bool on_main_thread() {
    return ::syscall(SYS_gettid) == ::getpid();
}

/// Installs the interrupt handler for SIGINT (and SIGTERM if `sigterm`) for the duration of
/// corio::run on the main thread, for each signal the program has no action of its own for.
class interrupt_scope {
  public:
    interrupt_scope(event_loop& loop, std::function<void()>& hook, task_ref main, bool sigterm)
        : m_hook(hook) {
        if (!on_main_thread())
            return;
        const int signals[] = {SIGINT, sigterm ? SIGTERM : 0};
        for (std::size_t i = 0; i < 2; ++i) {
            const int sig = signals[i];
            struct sigaction current {};
            if (sig == 0 || ::sigaction(sig, nullptr, &current) != 0 ||
                current.sa_handler != SIG_DFL || (current.sa_flags & SA_SIGINFO))
                continue;
            if (!m_waker) {
                m_waker = loop.io_backend().get_waker();
                g_interrupted.store(false, std::memory_order_relaxed);
                g_interrupt_waker.store(m_waker.get(), std::memory_order_release);
                hook = [main] {
                    if (g_interrupted.exchange(false, std::memory_order_relaxed))
                        main.cancel();
                };
            }
            struct sigaction sa {};
            sa.sa_handler = &on_interrupt;
            sigemptyset(&sa.sa_mask);
            m_slots[i].sig = sig;
            m_slots[i].installed = ::sigaction(sig, &sa, &m_slots[i].previous) == 0;
        }
    }
    interrupt_scope(const interrupt_scope&) = delete;
    interrupt_scope& operator=(const interrupt_scope&) = delete;
    ~interrupt_scope() { restore(); }

    /// main is done: SIGINT (SIGTERM) no longer cancels it. The default actions come back for
    /// the wind-down, so that Ctrl-C then kills at once, as without corio::run.
    void end() noexcept {
        restore();
        if (m_waker) {
            g_interrupt_waker.store(nullptr, std::memory_order_release);
            m_hook = nullptr;
        }
    }

    /// Puts back the previous action of each signal whose action is still corio::run's: at
    /// end(), and once more after the loop closed, because a corio signal handler that replaced
    /// run's action puts that action back when its loop closes.
    void restore() noexcept {
        for (slot& s : m_slots) {
            if (!s.installed)
                continue;
            struct sigaction current {};
            ::sigaction(s.sig, nullptr, &current);
            if (current.sa_handler == &on_interrupt) {
                ::sigaction(s.sig, &s.previous, nullptr);
                s.installed = false;
            } else if (current.sa_handler == SIG_DFL) {
                s.installed = false; // the handler restored the default itself (second signal)
            }
        }
    }

  private:
    struct slot {
        int sig = 0;
        struct sigaction previous {};
        bool installed = false;
    };
    std::function<void()>& m_hook;
    std::shared_ptr<waker> m_waker;
    slot m_slots[2];
};

} // namespace

void run_main(event_loop& loop, task_ref main) {
    // A failure of the loop itself (not of main, whose outcome stays in its task) is rethrown
    // once the remaining tasks have been wound down.
    std::exception_ptr failure;
    interrupt_scope interrupt(loop, loop.m_on_interrupt, main, loop.m_sigterm_cancels_main);
    try {
        loop.run_until_done(main);
    } catch (...) {
        failure = std::current_exception();
    }
    interrupt.end();
    // Cancel what is left and let it finish, as asyncio.run does. Tasks may start others while
    // they unwind, so repeat until none is left.
    while (loop.task_count() > 0 && !loop.is_closed()) {
        std::vector<task_ref> left;
        for (detail::task_header* t = loop.first_task(); t; t = t->m_next_task)
            left.emplace_back(t);
        for (const task_ref& t : left)
            t.cancel();
        for (const task_ref& t : left)
            if (!t.done())
                loop.run_until_done(t);
    }
    loop.close();
    interrupt.restore();
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace corio::detail

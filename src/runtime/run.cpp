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

// State shared with the SIGINT handler. Only lock-free atomics and async-signal-safe calls are
// used there: the handler sets the flag, restores the default action (so that a second Ctrl-C
// kills a program that ignores cancellation) and wakes the loop, which does the real work.
std::atomic<bool> g_interrupted{false};
std::atomic<waker*> g_interrupt_waker{nullptr};

void on_sigint(int) {
    g_interrupted.store(true, std::memory_order_relaxed);
    ::signal(SIGINT, SIG_DFL);
    if (waker* w = g_interrupt_waker.load(std::memory_order_acquire))
        w->wake();
}

bool on_main_thread() {
    return ::syscall(SYS_gettid) == ::getpid();
}

/// Installs the SIGINT handler for the duration of corio::run on the main thread, unless the
/// program has its own handler for SIGINT.
class sigint_scope {
  public:
    sigint_scope(event_loop& loop, std::function<void()>& hook, task_ref main) : m_hook(hook) {
        if (!on_main_thread())
            return;
        struct sigaction current {};
        if (::sigaction(SIGINT, nullptr, &current) != 0 || current.sa_handler != SIG_DFL)
            return;
        m_waker = loop.io_backend().get_waker();
        g_interrupted.store(false, std::memory_order_relaxed);
        g_interrupt_waker.store(m_waker.get(), std::memory_order_release);
        hook = [main = std::move(main)] {
            if (g_interrupted.exchange(false, std::memory_order_relaxed))
                main.cancel();
        };
        struct sigaction sa {};
        sa.sa_handler = &on_sigint;
        sigemptyset(&sa.sa_mask);
        m_installed = ::sigaction(SIGINT, &sa, &m_previous) == 0;
    }
    sigint_scope(const sigint_scope&) = delete;
    sigint_scope& operator=(const sigint_scope&) = delete;
    ~sigint_scope() {
        if (m_installed) {
            struct sigaction current {};
            ::sigaction(SIGINT, nullptr, &current);
            // Put back the previous action unless the handler already restored the default.
            if (current.sa_handler == &on_sigint)
                ::sigaction(SIGINT, &m_previous, nullptr);
        }
        g_interrupt_waker.store(nullptr, std::memory_order_release);
        m_hook = nullptr;
    }

  private:
    std::function<void()>& m_hook;
    std::shared_ptr<waker> m_waker;
    struct sigaction m_previous {};
    bool m_installed = false;
};

} // namespace

void run_main(event_loop& loop, task_ref main) {
    // A failure of the loop itself (not of main, whose outcome stays in its task) is rethrown
    // once the remaining tasks have been wound down.
    std::exception_ptr failure;
    {
        sigint_scope sigint(loop, loop.m_on_interrupt, main);
        try {
            loop.run_until_done(main);
        } catch (...) {
            failure = std::current_exception();
        }
    }
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
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace corio::detail

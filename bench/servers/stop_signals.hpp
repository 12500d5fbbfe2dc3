#pragma once

// How the bench servers stop: SIGTERM or SIGINT, read from a signalfd.
//
// Not corio::add_signal_handler, on purpose: tools/echo_callgrind.sh runs the servers under
// valgrind, which makes io_uring_enter with every signal blocked, so a signal that arrives while
// the loop waits in the ring stays pending, its handler never runs, and the server never exits.
// A signalfd needs no handler: the blocked signal makes it readable, which the ring reports.

#include "corio/runtime/event_loop.hpp"
#include "corio/sync/event.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace corio_bench {

class stop_signals {
  public:
    /// Blocks SIGTERM and SIGINT in the calling thread (call it before any other thread starts,
    /// so that they inherit the mask) and opens the signalfd. Errors: std::system_error.
    stop_signals() {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        sigprocmask(SIG_BLOCK, &signals, nullptr);
        m_fd = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
        if (m_fd < 0)
            throw std::system_error(errno, std::generic_category(), "signalfd");
    }
    stop_signals(const stop_signals&) = delete;
    stop_signals& operator=(const stop_signals&) = delete;
    ~stop_signals() { ::close(m_fd); }

    /// Returns once SIGTERM or SIGINT has arrived. Errors: those of event_loop::add_reader.
    corio::task<void> wait() const {
        corio::event stop;
        corio::event_loop& loop = *corio::event_loop::current();
        const int fd = m_fd;
        loop.add_reader(fd, [&stop, fd] {
            signalfd_siginfo info;
            while (::read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
                stop.set();
        });
        struct unwatch {
            corio::event_loop& loop;
            int fd;
            ~unwatch() { loop.remove_reader(fd); } // also when cancelled: `stop` goes with us
        } guard{loop, fd};
        co_await stop.wait();
    }

  private:
    int m_fd = -1;
};

} // namespace corio_bench

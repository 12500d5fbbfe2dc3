#pragma once

#include "corio/core/scheduler.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace corio {

/// How an event_loop is built.
struct loop_options {
    /// The real monotonic clock, or the virtual clock for tests.
    clock_mode clock = clock_mode::real;
    /// Debug mode (slow-callback warnings). Unset: on when the environment has CORIO_DEBUG set
    /// to anything but "" or "0".
    std::optional<bool> debug{};
    /// The I/O backend by name. Empty (the default): the environment variable CORIO_BACKEND
    /// decides, and when it is unset or empty too, epoll.
    ///
    /// Names: "epoll" (edge-triggered; CORIO_EPOLL_MODE=lt makes it level-triggered),
    /// "epoll-et" and "epoll-lt" (the mode fixed), "poll" (plain poll(2), the portable fallback
    /// and reference), and "io_uring". When io_uring is asked for but cannot be used here (a
    /// build or kernel without it, seccomp, /proc/sys/kernel/io_uring_disabled), the loop uses
    /// epoll instead, and debug builds (NDEBUG not defined) say so once on stderr.
    /// event_loop::backend_name() tells which backend a loop got. See docs/backends.md.
    ///
    /// Errors (from the event_loop constructor): std::invalid_argument for an unknown name,
    /// naming the available ones.
    ///
    /// Example: `CORIO_BACKEND=poll ./server`, or `options.backend = "poll";`.
    std::string backend{};
    /// The time a callback or task step may hold the loop before debug mode warns.
    std::chrono::nanoseconds slow_callback_duration = std::chrono::milliseconds(100);
    /// The bound on the worker threads of the loop's default executor (to_thread). 0: Python's
    /// default, min(32, hardware threads + 4). The threads start only when work arrives.
    std::size_t default_executor_threads = 0;
    /// corio::run only: SIGTERM cancels main as SIGINT does (what service managers, Docker and
    /// Kubernetes send to stop a program). Off by default, as in asyncio.run. As for SIGINT, a
    /// program's own action for SIGTERM (or a corio signal handler) takes precedence, and a
    /// second SIGTERM terminates the process.
    bool cancel_main_on_sigterm = false;
};

} // namespace corio

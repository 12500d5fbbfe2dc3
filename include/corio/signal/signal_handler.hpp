#pragma once

#include <functional>

namespace corio {

class event_loop;

/// Calls `callback()` on `loop`'s thread each time signal `sig` arrives, until
/// remove_signal_handler (asyncio's loop.add_signal_handler). Replaces the callback `sig`
/// already had in this loop.
///
/// How: corio installs a process-wide sigaction handler that only records the signal and wakes
/// the loop (through an eventfd); the callback then runs on the loop thread like any other
/// callback, so it may do anything a callback may (cancel tasks, close servers). Nothing unsafe
/// runs in the real handler. The signal may be delivered to any thread of the process: no signal
/// mask is needed (corio blocks nothing). Several arrivals before the loop gets control may be
/// coalesced into one call, as the kernel coalesces a pending signal. While the loop runs a long
/// synchronous step, the callback waits until the loop gets control back.
///
/// While any loop handles `sig`, the process's previous action for it (SIG_DFL, SIG_IGN or a
/// handler, including corio::run's SIGINT handler) is replaced; it is put back when the last
/// loop stops handling it (remove_signal_handler, or the loop closing). Children spawned by
/// corio start with the default actions.
///
/// An exception escaping `callback` goes to the loop's exception handler; the handler stays.
///
/// Errors: std::invalid_argument for a signal that cannot be handled (SIGKILL, SIGSTOP, the
/// synchronous SIGSEGV, SIGBUS, SIGFPE, SIGILL, or out of 1..64) or an empty callback;
/// std::logic_error if the loop is closed (or, for the overload without a loop, outside a
/// running loop); std::runtime_error when more than 64 loops handle signals at once;
/// std::system_error if sigaction or eventfd fails.
///
/// Example:
/// @code
/// corio::add_signal_handler(SIGTERM, [&] { srv.close(); });
/// @endcode
void add_signal_handler(event_loop& loop, int sig, std::function<void()> callback);
/// The same on the loop running on this thread.
void add_signal_handler(int sig, std::function<void()> callback);

/// Stops calling the callback of `sig` on `loop` (asyncio's remove_signal_handler). Returns
/// true if there was one. When no loop listens to `sig` any more, its previous action is back.
bool remove_signal_handler(event_loop& loop, int sig) noexcept;
/// The same on the loop running on this thread (false outside a running loop).
bool remove_signal_handler(int sig) noexcept;

} // namespace corio

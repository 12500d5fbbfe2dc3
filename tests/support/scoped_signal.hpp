#pragma once

// A signal's disposition set for the lifetime of an object (SIGPIPE left at its default, to
// prove that corio never raises it).

#include <signal.h>

namespace corio::test {

/// Sets the disposition of `sig` (SIG_DFL, SIG_IGN or a handler), and restores the previous
/// one, flags and mask included, when destroyed: a failed assertion or an exception in between
/// cannot leave it changed for the tests that run after.
class scoped_signal {
  public:
    scoped_signal(int sig, void (*disposition)(int)) : m_sig(sig) {
        struct sigaction now {};
        now.sa_handler = disposition;
        sigemptyset(&now.sa_mask);
        ::sigaction(sig, &now, &m_old);
    }
    scoped_signal(const scoped_signal&) = delete;
    scoped_signal& operator=(const scoped_signal&) = delete;
    ~scoped_signal() { ::sigaction(m_sig, &m_old, nullptr); }

  private:
    int m_sig;
    struct sigaction m_old {};
};

} // namespace corio::test

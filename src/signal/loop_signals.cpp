#include "signal/loop_signals.hpp"

#include "sys/posix/errors.hpp"
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace corio::detail {

namespace {

/// The slot of one loop in the process-wide table the handler reads.
struct slot {
    /// The loop's eventfd, or -1 while the slot is free or closing.
    std::atomic<int> fd{-1};
    /// The signals the loop listens to (bit sig - 1).
    std::atomic<std::uint64_t> interest{0};
    /// The signals that arrived and the loop has not dispatched yet.
    std::atomic<std::uint64_t> pending{0};
};

constexpr int max_slots = 64;

// Lock-free atomics only: the handler may run on any thread at any time. Sequentially
// consistent throughout: closing a slot stores fd = -1 and then reads g_in_handler, the handler
// increments g_in_handler and then reads fd; with seq_cst one of them sees the other.
slot g_slots[max_slots];
std::atomic<int> g_in_handler{0};

// Registration state, under g_mutex (loop threads only, never the handler).
std::mutex g_mutex;
bool g_slot_used[max_slots] = {};
// Loops listening to each signal, and the action corio's handler replaced.
int g_users[max_signal + 1] = {};
struct sigaction g_previous[max_signal + 1];

std::uint64_t bit(int sig) noexcept {
    return std::uint64_t{1} << (sig - 1);
}

void on_signal(int sig) {
    const int saved_errno = errno;
    g_in_handler.fetch_add(1);
    if (sig >= 1 && sig <= max_signal) {
        const std::uint64_t b = bit(sig);
        for (slot& s : g_slots) {
            if (!(s.interest.load() & b))
                continue;
            const int fd = s.fd.load();
            if (fd < 0)
                continue;
            s.pending.fetch_or(b);
            const std::uint64_t one = 1;
            // A full counter (EAGAIN) already means "wake up"; nothing else can fail usefully.
            [[maybe_unused]] const ssize_t r = ::write(fd, &one, sizeof one);
        }
    }
    g_in_handler.fetch_sub(1);
    errno = saved_errno;
}

/// Installs corio's handler for `sig` if this is the first loop to listen. Under g_mutex.
void install(int sig) {
    if (g_users[sig]++ > 0)
        return;
    struct sigaction sa {};
    sa.sa_handler = &on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    if (::sigaction(sig, &sa, &g_previous[sig]) != 0) {
        --g_users[sig];
        sys::throw_last_errno(("sigaction(" + std::to_string(sig) + ")").c_str());
    }
}

/// Puts back the action corio replaced once no loop listens to `sig`. Under g_mutex.
void uninstall(int sig) noexcept {
    if (--g_users[sig] > 0)
        return;
    ::sigaction(sig, &g_previous[sig], nullptr);
}

/// Waits until no handler runs on another thread: after a slot's fd was cleared, none of them
/// can use it any more.
void wait_for_handlers() noexcept {
    while (g_in_handler.load() != 0)
        ::sched_yield();
}

const void* const key = &key;

} // namespace

void loop_signals::check_signal(int sig) {
    if (sig < 1 || sig > max_signal || sig == SIGKILL || sig == SIGSTOP)
        throw std::invalid_argument("corio: signal " + std::to_string(sig) + " cannot be handled");
    // Synchronous signals come back at once when the handler returns (the faulting instruction
    // runs again): no event loop can handle them.
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL)
        throw std::invalid_argument("corio: signal " + std::to_string(sig) +
                                    " is synchronous and cannot be handled by an event loop");
}

loop_signals& loop_signals::of(event_loop& loop) {
    if (loop_extension* e = loop.find_extension(key))
        return static_cast<loop_signals&>(*e);
    auto fresh = std::make_unique<loop_signals>(loop);
    return static_cast<loop_signals&>(loop.add_extension(key, std::move(fresh)));
}

loop_signals* loop_signals::find(event_loop& loop) noexcept {
    return static_cast<loop_signals*>(loop.find_extension(key));
}

loop_signals::loop_signals(event_loop& loop) : m_loop(loop) {
    m_efd = sys::unique_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!m_efd)
        sys::throw_last_errno("eventfd");
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        for (int i = 0; i < max_slots; ++i) {
            if (!g_slot_used[i]) {
                g_slot_used[i] = true;
                m_slot = i;
                break;
            }
        }
    }
    if (m_slot < 0)
        throw std::runtime_error("corio: more than 64 event loops handle signals");
    slot& s = g_slots[m_slot];
    s.interest.store(0);
    s.pending.store(0);
    s.fd.store(m_efd.get());
    try {
        m_loop.add_reader(m_efd.get(), [this] { dispatch(); });
        m_watching = true;
    } catch (...) {
        shut();
        throw;
    }
}

loop_signals::~loop_signals() {
    shut();
}

void loop_signals::on_close() noexcept {
    shut();
}

void loop_signals::shut() noexcept {
    if (m_slot < 0)
        return;
    slot& s = g_slots[m_slot];
    s.fd.store(-1);
    s.interest.store(0);
    wait_for_handlers();
    if (m_watching) {
        m_loop.remove_reader(m_efd.get());
        m_watching = false;
    }
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        for (int sig = 1; sig <= max_signal; ++sig) {
            if (m_uses[sig] > 0)
                uninstall(sig);
            m_uses[sig] = 0;
        }
        g_slot_used[m_slot] = false;
    }
    m_slot = -1;
    for (auto& h : m_handlers)
        h = nullptr;
    // Listeners (signal_sets, child watchers) still linked hear nothing more.
    while (signal_listener* l = m_listeners) {
        m_listeners = l->m_next;
        l->m_prev = l->m_next = nullptr;
        l->detached();
    }
    m_efd.reset();
}

void loop_signals::subscribe(int sig) {
    check_signal(sig);
    if (m_slot < 0)
        throw std::logic_error("corio: the event loop is closed");
    if (m_uses[sig] == 0) {
        std::lock_guard<std::mutex> lock(g_mutex);
        // Interest first: a signal that arrives right after the handler is installed is kept.
        g_slots[m_slot].interest.fetch_or(bit(sig));
        try {
            install(sig);
        } catch (...) {
            g_slots[m_slot].interest.fetch_and(~bit(sig));
            throw;
        }
    }
    ++m_uses[sig];
}

void loop_signals::unsubscribe(int sig) noexcept {
    if (m_slot < 0 || m_uses[sig] == 0)
        return;
    if (--m_uses[sig] > 0)
        return;
    std::lock_guard<std::mutex> lock(g_mutex);
    g_slots[m_slot].interest.fetch_and(~bit(sig));
    uninstall(sig);
}

void loop_signals::set_handler(int sig, std::function<void()> fn) {
    check_signal(sig);
    if (!fn)
        throw std::invalid_argument("corio::add_signal_handler: empty callback");
    if (!m_handlers[sig])
        subscribe(sig);
    m_handlers[sig] = std::move(fn);
}

bool loop_signals::remove_handler(int sig) noexcept {
    if (sig < 1 || sig > max_signal || !m_handlers[sig])
        return false;
    m_handlers[sig] = nullptr;
    unsubscribe(sig);
    return true;
}

void loop_signals::add_listener(signal_listener& l) {
    int done = 0;
    try {
        for (int sig = 1; sig <= max_signal; ++sig) {
            if (l.m_mask & bit(sig)) {
                subscribe(sig);
                done = sig;
            }
        }
    } catch (...) {
        for (int sig = 1; sig <= done; ++sig)
            if (l.m_mask & bit(sig))
                unsubscribe(sig);
        throw;
    }
    l.m_prev = nullptr;
    l.m_next = m_listeners;
    if (m_listeners)
        m_listeners->m_prev = &l;
    m_listeners = &l;
}

void loop_signals::remove_listener(signal_listener& l) noexcept {
    if (l.m_prev)
        l.m_prev->m_next = l.m_next;
    else if (m_listeners == &l)
        m_listeners = l.m_next;
    else
        return; // not linked
    if (l.m_next)
        l.m_next->m_prev = l.m_prev;
    l.m_prev = l.m_next = nullptr;
    for (int sig = 1; sig <= max_signal; ++sig)
        if (l.m_mask & bit(sig))
            unsubscribe(sig);
}

void loop_signals::dispatch() noexcept {
    if (m_slot < 0)
        return;
    std::uint64_t counter = 0;
    [[maybe_unused]] const ssize_t r = ::read(m_efd.get(), &counter, sizeof counter);
    std::uint64_t pending = g_slots[m_slot].pending.exchange(0);
    for (int sig = 1; pending != 0 && sig <= max_signal; ++sig) {
        if (!(pending & bit(sig)))
            continue;
        pending &= ~bit(sig);
        // Listeners first (they only record and wake), then the handler, which may add or
        // remove anything. The next listener is read before the call: a listener may unlink
        // itself from its callback.
        for (signal_listener* l = m_listeners; l;) {
            signal_listener* next = l->m_next;
            if (l->m_mask & bit(sig))
                l->on_signal(sig);
            l = next;
        }
        if (m_handlers[sig]) {
            std::function<void()> fn = m_handlers[sig]; // the callback may remove itself
            try {
                fn();
            } catch (...) {
                m_loop.call_exception_handler(exception_context{
                    "Exception in a signal handler callback", std::current_exception(), {}});
            }
        }
        if (m_slot < 0)
            return; // a callback closed the machinery (cannot happen today; kept safe)
    }
}

} // namespace corio::detail

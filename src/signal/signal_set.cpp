#include "corio/signal/signal_set.hpp"

#include "corio/runtime/event_loop.hpp"
#include "corio/signal/signal_handler.hpp"

#include "signal/loop_signals.hpp"

#include <cstdint>
#include <stdexcept>
#include <utility>

namespace corio {

namespace {

event_loop& running_loop(const char* what) {
    event_loop* loop = event_loop::current();
    if (!loop)
        throw std::logic_error(std::string("corio::") + what + ": no running event loop");
    return *loop;
}

} // namespace

void add_signal_handler(event_loop& loop, int sig, std::function<void()> callback) {
    detail::loop_signals::check_signal(sig);
    if (!callback)
        throw std::invalid_argument("corio::add_signal_handler: empty callback");
    if (loop.is_closed())
        throw std::logic_error("corio::add_signal_handler: the event loop is closed");
    detail::loop_signals::of(loop).set_handler(sig, std::move(callback));
}

void add_signal_handler(int sig, std::function<void()> callback) {
    add_signal_handler(running_loop("add_signal_handler"), sig, std::move(callback));
}

bool remove_signal_handler(event_loop& loop, int sig) noexcept {
    if (loop.is_closed())
        return false;
    detail::loop_signals* s = detail::loop_signals::find(loop);
    return s && s->remove_handler(sig);
}

bool remove_signal_handler(int sig) noexcept {
    event_loop* loop = event_loop::current();
    return loop && remove_signal_handler(*loop, sig);
}

namespace detail {

/// The shared part of a signal_set: the listener in the loop's list, the signals that arrived
/// while nobody waited, and the waiting tasks.
class signal_set_state final : public signal_listener {
  public:
    signal_set_state(event_loop& loop, std::initializer_list<int> signals) {
        if (signals.size() == 0)
            throw std::invalid_argument("corio::signal_set: no signal");
        for (int sig : signals) {
            loop_signals::check_signal(sig);
            m_mask |= std::uint64_t{1} << (sig - 1);
        }
        if (loop.is_closed())
            throw std::logic_error("corio::signal_set: the event loop is closed");
        m_signals = &loop_signals::of(loop);
        m_signals->add_listener(*this);
    }
    signal_set_state(const signal_set_state&) = delete;
    signal_set_state& operator=(const signal_set_state&) = delete;
    ~signal_set_state() { close(); }

    void close() noexcept {
        if (!m_signals)
            return;
        m_signals->remove_listener(*this);
        detached();
    }

    void detached() noexcept override {
        m_signals = nullptr;
        while (sync_waiter* w = m_waiters.pop_front()) {
            auto* a = static_cast<signal_wait_awaiter*>(w);
            a->m_state = nullptr;
            a->m_sig = 0;
            a->m_task->wake();
        }
    }

    void on_signal(int sig) noexcept override { deliver(sig); }

    /// Gives `sig` to the oldest waiter, or keeps it for the next wait.
    void deliver(int sig) noexcept {
        if (sync_waiter* w = m_waiters.pop_front()) {
            auto* a = static_cast<signal_wait_awaiter*>(w);
            a->m_granted = true;
            a->m_sig = sig;
            a->m_task->wake();
            return;
        }
        m_pending |= std::uint64_t{1} << (sig - 1);
    }

    /// A signal recorded while nobody waited (lowest first), or 0.
    int take_pending() noexcept {
        if (m_pending == 0)
            return 0;
        const int i = __builtin_ctzll(m_pending);
        m_pending &= m_pending - 1;
        return i + 1;
    }

    [[nodiscard]] bool open() const noexcept { return m_signals != nullptr; }
    waiter_queue& waiters() noexcept { return m_waiters; }

  private:
    loop_signals* m_signals = nullptr;
    std::uint64_t m_pending = 0;
    waiter_queue m_waiters;
};

signal_wait_awaiter::~signal_wait_awaiter() {
    // A frame destroyed while parked (its loop closing): leave the queue.
    if (m_linked && m_state)
        m_state->waiters().remove(*this);
}

bool signal_wait_awaiter::await_ready() {
    if (!m_state || !m_state->open())
        return true; // await_resume throws
    m_sig = m_state->take_pending();
    return m_sig != 0;
}

bool signal_wait_awaiter::await_suspend(std::coroutine_handle<> h) {
    m_task = &this_task("signal_set::wait");
    if (m_task->m_must_cancel) {
        // Nothing taken yet: the cancellation is thrown by await_resume.
        return false;
    }
    m_state->waiters().push_back(*this);
    m_task->suspend(*this, h);
    return true;
}

int signal_wait_awaiter::await_resume() {
    if (m_task && m_task->m_must_cancel) {
        // Granted but cancelled before it resumed: the signal goes back for the next wait.
        if (m_granted && m_sig != 0 && m_state)
            m_state->deliver(m_sig);
        m_granted = false;
        m_task->throw_if_cancelled();
    }
    if (m_sig == 0)
        throw std::logic_error("corio::signal_set::wait: the set is closed");
    return m_sig;
}

void signal_wait_awaiter::on_cancel(wait_node* w, task_header& t) noexcept {
    auto* self = static_cast<signal_wait_awaiter*>(w);
    if (self->m_linked && self->m_state)
        self->m_state->waiters().remove(*self);
    t.m_must_cancel = true;
    t.wake();
}

} // namespace detail

signal_set::signal_set(std::initializer_list<int> signals)
    : signal_set(running_loop("signal_set"), signals) {}

signal_set::signal_set(event_loop& loop, std::initializer_list<int> signals)
    : m_state(std::make_unique<detail::signal_set_state>(loop, signals)) {}

signal_set::signal_set(signal_set&& o) noexcept = default;
signal_set& signal_set::operator=(signal_set&& o) noexcept = default;
signal_set::~signal_set() = default;

detail::signal_wait_awaiter signal_set::wait() noexcept {
    return detail::signal_wait_awaiter(m_state.get());
}

void signal_set::close() noexcept {
    if (m_state)
        m_state->close();
}

} // namespace corio

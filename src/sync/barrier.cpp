#include "corio/sync/barrier.hpp"

#include <cassert>
#include <stdexcept>

namespace corio {

barrier::barrier(std::size_t parties) : m_parties(parties) {
    if (parties < 1)
        throw std::invalid_argument("corio::barrier: parties must be at least 1");
}

void barrier::release() noexcept {
    m_state = state::draining;
    // Released tasks stay counted until they resume: the barrier drains until they all have.
    while (detail::sync_waiter* w = m_waiters.pop_front())
        w->m_task->wake();
}

void barrier::exit() noexcept {
    if (m_count == 0 && (m_state == state::draining || m_state == state::resetting)) {
        m_state = state::filling;
        admit_blocked();
    }
}

void barrier::admit_blocked() noexcept {
    // asyncio wakes these tasks and each arrives when it resumes; here they arrive now, in the
    // order they came, so that none has to wait again if a cycle fills before it runs.
    while (m_state == state::filling && !m_blocked.empty()) {
        auto* w = static_cast<wait_awaiter*>(m_blocked.pop_front());
        w->m_phase = wait_awaiter::phase::inside;
        w->m_index = m_count++;
        w->m_counted = true;
        if (m_count == m_parties) {
            // It fills the cycle: it is released with the others (it is parked, so it wakes
            // and leaves when it resumes, like them).
            release();
            w->m_task->wake();
        } else {
            m_waiters.push_back(*w);
        }
    }
}

void barrier::reset() noexcept {
    if (m_count > 0) {
        // The tasks inside leave with broken_barrier_error; new arrivals wait until they have.
        m_state = state::resetting;
        while (detail::sync_waiter* w = m_waiters.pop_front())
            w->m_task->wake();
    } else {
        m_state = state::filling;
        admit_blocked();
    }
}

void barrier::abort() noexcept {
    m_state = state::broken;
    while (detail::sync_waiter* w = m_waiters.pop_front())
        w->m_task->wake();
    while (detail::sync_waiter* w = m_blocked.pop_front())
        w->m_task->wake();
}

barrier::wait_awaiter::~wait_awaiter() {
    // Only if the frame dies while parked, or woken and not yet resumed.
    if (m_phase == phase::blocked)
        m_barrier.m_blocked.remove(*this);
    else
        m_barrier.m_waiters.remove(*this);
    leave();
}

void barrier::wait_awaiter::leave() noexcept {
    if (m_counted) {
        m_counted = false;
        --m_barrier.m_count;
        m_barrier.exit();
    }
}

bool barrier::wait_awaiter::await_suspend(std::coroutine_handle<> h) {
    m_task = &detail::this_task("barrier wait");
    barrier& b = m_barrier;
    switch (b.m_state) {
    case state::broken:
        m_phase = phase::failed;
        m_broken = true;
        return false;
    case state::draining:
    case state::resetting:
        if (m_task->m_must_cancel) {
            m_phase = phase::failed;
            return false;
        }
        m_phase = phase::blocked;
        b.m_blocked.push_back(*this);
        m_task->suspend(*this, h);
        return true;
    case state::filling:
        break;
    }
    if (b.m_count + 1 == b.m_parties) {
        // The last arrival releases the others and leaves at once, as asyncio's does (it does
        // not suspend, so a pending cancellation is not delivered here).
        m_index = b.m_count++;
        b.release();
        --b.m_count;
        b.exit();
        m_phase = phase::passed;
        return false;
    }
    if (m_task->m_must_cancel) {
        m_phase = phase::failed;
        return false;
    }
    m_phase = phase::inside;
    m_index = b.m_count++;
    m_counted = true;
    b.m_waiters.push_back(*this);
    m_task->suspend(*this, h);
    return true;
}

std::size_t barrier::wait_awaiter::await_resume() {
    switch (m_phase) {
    case phase::passed:
        return m_index;
    case phase::failed:
        if (m_broken)
            throw broken_barrier_error();
        m_task->deliver_cancel();
    case phase::blocked:
        // Woken without being let in: by abort() (a cancellation sets phase::failed).
        m_task->throw_if_cancelled();
        throw broken_barrier_error();
    case phase::inside:
        break;
    case phase::idle:
        assert(false && "barrier: await_resume without await_suspend");
        break;
    }
    // Woken by release(), reset() or abort(). As in asyncio, the state when the task resumes
    // decides between its index and an error.
    const state s = m_barrier.m_state;
    leave();
    m_task->throw_if_cancelled();
    if (s == state::broken || s == state::resetting)
        throw broken_barrier_error();
    assert(s == state::draining);
    return m_index;
}

void barrier::wait_awaiter::on_cancel(detail::wait_node* w, detail::task_header& t) noexcept {
    auto* self = static_cast<wait_awaiter*>(w);
    if (self->m_phase == phase::blocked) {
        self->m_barrier.m_blocked.remove(*self);
    } else {
        self->m_barrier.m_waiters.remove(*self);
        self->leave();
    }
    // It throws cancelled_error on resume even if the request is withdrawn meanwhile.
    self->m_phase = phase::failed;
    t.m_must_cancel = true;
    t.wake();
}

} // namespace corio

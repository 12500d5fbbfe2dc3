#include "corio/runtime/to_thread.hpp"

#include "corio/runtime/event_loop.hpp"

#include <stdexcept>

namespace corio::detail {

void thread_job_base::start(task_header& waiter, thread_pool* executor) {
    auto* loop = dynamic_cast<event_loop*>(waiter.m_sched);
    if (!loop)
        throw std::logic_error("corio: to_thread is only possible inside a task run by an "
                               "event_loop");
    if (!executor)
        executor = &loop->default_executor();
    m_inbox = loop->inbox();
    m_waiter = &waiter;
    // Relaxed: no other thread knows the job yet; the pool's mutex publishes it to the worker.
    m_refs.store(2, std::memory_order_relaxed);
    try {
        executor->post(*this);
    } catch (...) {
        m_refs.store(1, std::memory_order_relaxed);
        m_waiter = nullptr;
        throw;
    }
}

void thread_job_base::abandon() noexcept {
    m_waiter = nullptr;
    thread_job_state expected = thread_job_state::queued;
    if (!m_state.compare_exchange_strong(expected, thread_job_state::cancelled,
                                         std::memory_order_acq_rel))
        request_stop(); // running or finished: only the callable itself can cut it short
}

void thread_job_base::complete() noexcept {
    // On success the inbox holds the pool side's reference and disposes of it on the loop.
    if (!m_inbox->post(*this))
        release(); // the loop has closed: nobody will read the result
}

void thread_job_base::drop(pool_job* j) noexcept {
    auto* self = static_cast<thread_job_base*>(j);
    if (!self->claim()) {
        self->release();
        return;
    }
    try {
        throw std::runtime_error(pool_shutdown_message);
    } catch (...) {
        self->m_exception = std::current_exception();
    }
    self->complete();
}

void thread_job_base::run() {
    // Null when the awaiter gave up (cancelled, or its frame is gone): nothing to wake.
    if (task_header* t = m_waiter) {
        m_waiter = nullptr;
        t->wake();
    }
}

} // namespace corio::detail

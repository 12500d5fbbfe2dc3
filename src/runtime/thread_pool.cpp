#include "corio/runtime/thread_pool.hpp"

#include <algorithm>

namespace corio {

thread_pool::thread_pool(std::size_t max_threads)
    : m_max_threads(max_threads ? max_threads : default_thread_count()) {}

thread_pool::~thread_pool() {
    shutdown(true);
}

std::size_t thread_pool::default_thread_count() noexcept {
    const std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
    return std::min<std::size_t>(32, hw + 4);
}

std::size_t thread_pool::thread_count() const {
    std::lock_guard lock(m_mutex);
    return m_threads.size();
}

bool thread_pool::is_shutdown() const {
    std::lock_guard lock(m_mutex);
    return m_shutdown;
}

void thread_pool::post(detail::pool_job& job) {
    std::unique_lock lock(m_mutex);
    if (m_shutdown)
        throw std::runtime_error("corio: cannot submit a job to a thread pool after shutdown");
    // A worker is needed when the jobs waiting (this one included) outnumber the workers that
    // wait for jobs. Idle workers that were notified but have not taken a job yet still count
    // as idle, and the jobs they will take still count as queued, so the comparison holds.
    if (m_queued + 1 > m_idle && m_threads.size() < m_max_threads) {
        try {
            m_threads.emplace_back([this] { work(); });
        } catch (...) {
            // Without any worker the job would never run; with some, it runs a little later.
            if (m_threads.empty())
                throw;
        }
    }
    job.m_next_job = nullptr;
    if (m_tail)
        m_tail->m_next_job = &job;
    else
        m_head = &job;
    m_tail = &job;
    ++m_queued;
    if (m_idle > 0)
        m_wake.notify_one();
}

void thread_pool::work() {
    std::unique_lock lock(m_mutex);
    for (;;) {
        while (!m_head && !m_shutdown) {
            ++m_idle;
            m_wake.wait(lock);
            --m_idle;
        }
        // shutdown() empties the queue, so an empty queue here means the pool is shutting down.
        detail::pool_job* job = m_head;
        if (!job)
            return;
        m_head = job->m_next_job;
        if (!m_head)
            m_tail = nullptr;
        --m_queued;
        lock.unlock();
        job->m_run(job);
        lock.lock();
    }
}

void thread_pool::shutdown(bool wait) {
    detail::pool_job* dropped = nullptr;
    {
        std::lock_guard lock(m_mutex);
        m_shutdown = true;
        dropped = m_head;
        m_head = m_tail = nullptr;
        m_queued = 0;
    }
    m_wake.notify_all();
    // Outside the lock: a dropped job reports to its waiter, which may post to a loop.
    while (dropped) {
        detail::pool_job* next = dropped->m_next_job;
        dropped->m_drop(dropped);
        dropped = next;
    }
    if (!wait)
        return;
    // m_threads no longer grows: post() refuses jobs once m_shutdown is set, and this thread
    // saw the flag set under m_mutex after every append.
    std::lock_guard join_lock(m_join_mutex);
    const std::thread::id self = std::this_thread::get_id();
    for (std::thread& t : m_threads) {
        if (t.joinable() && t.get_id() != self)
            t.join();
    }
}

} // namespace corio

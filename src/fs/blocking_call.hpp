#pragma once

// The one way fs/ runs a blocking system call: a job on the awaiting loop's default executor
// (the pool behind corio::to_thread), awaited by a task.
//
// It differs from corio::to_thread in what a cancellation does to a job that is already running:
// to_thread throws at once and lets the callable finish unobserved, which is right for a callable
// that owns its data. A file operation reads into, or writes from, memory the caller owns, so
// here the cancellation asks the job to stop (an atomic flag the callable checks between chunks)
// and waits for it to return before the awaiting task resumes and throws cancelled_error. No
// system call ever outlives the await that started it, as DESIGN.md asks of every operation.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/detail/task_header.hpp"
#include "corio/runtime/detail/remote_queue.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/thread_pool.hpp"

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace corio::fs::detail {

using corio::detail::pool_job;
using corio::detail::remote_call;
using corio::detail::remote_queue;
using corio::detail::task_header;
using corio::detail::wait_kind;
using corio::detail::wait_node;

/// queued -> running -> finished, or queued -> cancelled (the awaiter withdrew it before a
/// worker claimed it; it never runs). The worker and the awaiter race for the first move with a
/// compare-exchange.
enum class job_state : std::uint8_t { queued, running, finished, cancelled };

/// The callable-independent part: the pool's queue entry, then the completion message posted
/// back to the loop. Two references: the awaiter's, and the pool side's (pool queue, worker,
/// loop inbox); the last one deletes the job.
class job_base : public pool_job, public remote_call {
  public:
    /// Set when the awaiter is cancelled; the callable checks it between chunks.
    std::atomic<bool> m_stop{false};

    /// Queues the job on the loop's default executor. Loop thread.
    void start(task_header& waiter) {
        auto* loop = dynamic_cast<event_loop*>(waiter.m_sched);
        if (!loop)
            throw std::logic_error("corio::fs: file operations need a task run by an event_loop");
        m_inbox = loop->inbox();
        m_waiter = &waiter;
        // Relaxed: no other thread knows the job yet; the pool's mutex publishes it.
        m_refs.store(2, std::memory_order_relaxed);
        try {
            loop->default_executor().post(*this);
        } catch (...) {
            m_refs.store(1, std::memory_order_relaxed);
            m_waiter = nullptr;
            throw;
        }
    }

    /// Withdraws a job no worker has claimed yet. True if it will never run. Loop thread.
    bool withdraw() noexcept {
        job_state expected = job_state::queued;
        // acq_rel pairs with claim(): exactly one of the two wins.
        return m_state.compare_exchange_strong(expected, job_state::cancelled,
                                               std::memory_order_acq_rel);
    }

    /// Blocks until a running job has returned (only for a frame destroyed mid-operation, when
    /// its loop closes: the job may still be using the frame's buffer). Loop thread.
    void wait_until_not_running() const noexcept {
        // acquire: the job's writes (into the caller's buffer) happen before we go on.
        for (;;) {
            const job_state s = m_state.load(std::memory_order_acquire);
            if (s != job_state::running)
                return;
            m_state.wait(s, std::memory_order_acquire);
        }
    }

    /// True from start() until the completion woke the task (or the wait was given up).
    [[nodiscard]] bool awaited() const noexcept { return m_waiter != nullptr; }
    /// The awaiter gives up: the completion will wake nobody. Loop thread.
    void forget_waiter() noexcept { m_waiter = nullptr; }

    void release() noexcept {
        // acq_rel: whoever deletes sees every write of the other side.
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

  protected:
    job_base() noexcept { m_drop = &drop; }
    ~job_base() override = default;

    bool claim() noexcept {
        job_state expected = job_state::queued;
        return m_state.compare_exchange_strong(expected, job_state::running,
                                               std::memory_order_acq_rel);
    }

    /// Worker thread, after the callable returned: publishes the outcome, then posts the job
    /// back to the loop (or drops the pool side's reference if the loop has closed).
    void finish() noexcept {
        // release: the result and m_exception are visible to whoever sees `finished`.
        m_state.store(job_state::finished, std::memory_order_release);
        m_state.notify_all();
        if (!m_inbox->post(*this))
            release();
    }

    std::exception_ptr m_exception;

  private:
    static void drop(pool_job* j) noexcept {
        auto* self = static_cast<job_base*>(j);
        if (!self->claim()) {
            self->release();
            return;
        }
        try {
            throw std::runtime_error(corio::detail::pool_shutdown_message);
        } catch (...) {
            self->m_exception = std::current_exception();
        }
        self->finish();
    }

    // remote_call, on the loop thread.
    void run() override {
        if (task_header* t = std::exchange(m_waiter, nullptr))
            t->wake();
    }
    void dispose() noexcept override { release(); }

    task_header* m_waiter = nullptr;
    std::shared_ptr<remote_queue> m_inbox;
    std::atomic<std::uint32_t> m_refs{1};
    std::atomic<job_state> m_state{job_state::queued};
};

/// The job for a callable `F` invoked as `f(const std::atomic<bool>& stop)`.
template <typename F>
class job final : public job_base {
  public:
    using result_type = std::invoke_result_t<F&, const std::atomic<bool>&>;

    explicit job(F f) : m_fn(std::move(f)) { m_run = &work; }

    /// The result, or the callable's exception rethrown. Loop thread, once finished.
    result_type take() {
        if (m_exception)
            std::rethrow_exception(m_exception);
        if constexpr (!std::is_void_v<result_type>)
            return std::move(*m_result);
    }

  private:
    static void work(pool_job* j) noexcept {
        auto* self = static_cast<job*>(j);
        if (!self->claim()) {
            self->release(); // withdrawn before it started
            return;
        }
        try {
            if constexpr (std::is_void_v<result_type>)
                self->m_fn(self->m_stop);
            else
                self->m_result.emplace(self->m_fn(self->m_stop));
        } catch (...) {
            self->m_exception = std::current_exception();
        }
        self->finish();
    }

    F m_fn;
    struct none {};
    // An owning result (an open fd) is released with the job if nobody takes it.
    [[no_unique_address]] std::conditional_t<std::is_void_v<result_type>, none,
                                             std::optional<result_type>>
        m_result;
};

/// The awaitable. The wait node lives in the awaiting frame; the job is the one allocation.
template <typename F>
class [[nodiscard]] blocking_awaiter : wait_node {
  public:
    explicit blocking_awaiter(F f) : m_job(new job<F>(std::move(f))) { m_kind = &s_kind; }
    blocking_awaiter(const blocking_awaiter&) = delete;
    blocking_awaiter& operator=(const blocking_awaiter&) = delete;
    ~blocking_awaiter() {
        if (job<F>* j = std::exchange(m_job, nullptr)) {
            if (j->awaited()) {
                // The frame goes while the job is pending (its loop closed): never let a worker
                // use the frame's memory after this.
                j->forget_waiter();
                if (!j->withdraw()) {
                    j->m_stop.store(true, std::memory_order_relaxed);
                    j->wait_until_not_running();
                }
            }
            j->release();
        }
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_task = &corio::detail::this_task("fs");
        if (m_task->m_must_cancel)
            return false; // await_resume throws; nothing was started
        m_job->start(*m_task);
        m_task->suspend(*this, h);
        return true;
    }
    typename job<F>::result_type await_resume() {
        m_task->throw_if_cancelled();
        if (m_withdrawn) [[unlikely]]
            throw cancelled_error(); // withdrawn, then uncancel()ed: there is no result
        return m_job->take();
    }

  private:
    static void on_cancel(wait_node* w, task_header& t) noexcept {
        auto* self = static_cast<blocking_awaiter*>(w);
        t.m_must_cancel = true;
        if (self->m_job->withdraw()) {
            // Never started: wake now.
            self->m_job->forget_waiter();
            self->m_withdrawn = true;
            t.wake();
        } else {
            // Running (or finished, its completion on the way): ask it to stop, and let the
            // completion wake the task, which then throws.
            self->m_job->m_stop.store(true, std::memory_order_relaxed);
        }
    }

    job<F>* m_job;
    task_header* m_task = nullptr;
    bool m_withdrawn = false;
    static constexpr wait_kind s_kind{&on_cancel, "file"};
};

/// Runs `f(stop)` on the loop's default executor and awaits it. Name the result in a local before
/// co_await-ing it (g++ 12, DESIGN.md).
template <typename F>
blocking_awaiter<std::decay_t<F>> run_blocking(F&& f) {
    return blocking_awaiter<std::decay_t<F>>(std::forward<F>(f));
}

} // namespace corio::fs::detail

#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

namespace detail {

/// A job queued on a thread_pool. Intrusive, so that the pool never allocates per job: the
/// object that carries the work (a to_thread job) is the queue entry.
struct pool_job {
    /// Next job in the pool's FIFO; meaningful only while queued.
    pool_job* m_next_job = nullptr;
    /// Runs the job on a worker thread. The pool no longer refers to the job when this is
    /// called, so the job may destroy itself.
    void (*m_run)(pool_job*) noexcept = nullptr;
    /// Called instead of m_run when the pool shuts down before the job started, on the thread
    /// that calls shutdown(). The job may destroy itself.
    void (*m_drop)(pool_job*) noexcept = nullptr;
};

/// The message a job dropped by shutdown() reports to whoever waits for it.
inline constexpr const char* pool_shutdown_message =
    "corio: the thread pool shut down before the job started";

} // namespace detail

/// A bounded pool of worker threads with a FIFO job queue (Python's ThreadPoolExecutor): the
/// executor behind to_thread and event_loop::run_in_executor.
///
/// Threads are started lazily, one each time a job arrives and no worker is idle, up to
/// max_threads(); they then stay until shutdown. Jobs start in the order they were submitted.
/// Every member is thread-safe, so a pool can serve several loops and plain threads at once.
///
/// Shutdown: shutdown() (and the destructor) refuse new jobs, drop the jobs that have not
/// started — whoever waits for one gets std::runtime_error("corio: the thread pool shut down
/// before the job started") — and join the workers once their current job returns. A job that
/// is running is never interrupted. Unlike Python's shutdown(cancel_futures=False), queued jobs
/// are dropped rather than run, so that closing a loop does not wait for work nobody started.
///
/// Example:
/// @code
/// corio::thread_pool pool(4);
/// int v = co_await loop.run_in_executor(&pool, [] { return expensive(); });
/// std::future<int> f = pool.submit([] { return 42; }); // from any thread, without a loop
/// @endcode
class thread_pool {
  public:
    /// A pool of at most `max_threads` workers; 0 means default_thread_count(). No thread is
    /// started until the first job arrives.
    explicit thread_pool(std::size_t max_threads = 0);
    /// Shuts down (dropping queued jobs) and joins the workers, waiting for running jobs.
    /// Must not be called from one of the pool's own jobs.
    ~thread_pool();
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    /// Python's default: min(32, hardware threads + 4). I/O-bound blocking calls are the usual
    /// load, so the pool is larger than the number of cores.
    [[nodiscard]] static std::size_t default_thread_count() noexcept;

    /// The bound on the number of workers.
    [[nodiscard]] std::size_t max_threads() const noexcept { return m_max_threads; }
    /// The number of workers started so far (never more than max_threads()).
    [[nodiscard]] std::size_t thread_count() const;
    /// True once shutdown() has been called.
    [[nodiscard]] bool is_shutdown() const;

    /// Runs `f()` on a worker and returns a future for its result (Python's submit). For use
    /// without a loop; in a task, prefer `co_await loop.run_in_executor(&pool, f)`, which does
    /// not block the loop.
    ///
    /// Errors: std::runtime_error after shutdown; std::system_error if no worker could be
    /// started; std::bad_alloc. The future holds f's exception, or std::runtime_error if the
    /// pool shut down before `f` started.
    template <typename F>
    std::future<std::invoke_result_t<std::decay_t<F>&>> submit(F&& f);

    /// Refuses new jobs, drops the queued ones (their m_drop runs on this thread) and, when
    /// `wait`, joins the workers after their current job. Without `wait` the workers are
    /// joined by a later shutdown(true) or the destructor. Idempotent. Called from one of the
    /// pool's jobs, it joins every worker but the caller's own.
    void shutdown(bool wait = true);

    /// Queues `job` for a worker, starting a worker if none is idle and the bound allows.
    /// For corio's awaitables; applications use submit() or to_thread.
    ///
    /// Errors: std::runtime_error after shutdown; std::system_error if no worker runs and
    /// none could be started. On error the job is not queued and stays with the caller.
    void post(detail::pool_job& job);

  private:
    void work();

    const std::size_t m_max_threads;

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    // Guarded by m_mutex: the FIFO of jobs not started yet, its length, the number of workers
    // blocked waiting for a job, and the shutdown flag.
    detail::pool_job* m_head = nullptr;
    detail::pool_job* m_tail = nullptr;
    std::size_t m_queued = 0;
    std::size_t m_idle = 0;
    bool m_shutdown = false;
    // Appended under m_mutex while not shut down; after shutdown it no longer grows, and the
    // joiners take m_join_mutex so that two shutdown(true) calls do not join the same thread.
    std::vector<std::thread> m_threads;
    std::mutex m_join_mutex;
};

namespace detail {

/// The job behind thread_pool::submit: the callable and the promise of its future.
template <typename F, typename R>
struct submit_job final : pool_job {
    template <typename G>
    explicit submit_job(G&& f) : m_fn(std::forward<G>(f)) {
        m_run = &run;
        m_drop = &drop;
    }

    static void run(pool_job* j) noexcept {
        std::unique_ptr<submit_job> self(static_cast<submit_job*>(j));
        try {
            if constexpr (std::is_void_v<R>) {
                self->m_fn();
                self->m_promise.set_value();
            } else {
                self->m_promise.set_value(self->m_fn());
            }
        } catch (...) {
            self->m_promise.set_exception(std::current_exception());
        }
    }
    static void drop(pool_job* j) noexcept {
        std::unique_ptr<submit_job> self(static_cast<submit_job*>(j));
        try {
            throw std::runtime_error(pool_shutdown_message);
        } catch (...) {
            self->m_promise.set_exception(std::current_exception());
        }
    }

    F m_fn;
    std::promise<R> m_promise;
};

} // namespace detail

template <typename F>
std::future<std::invoke_result_t<std::decay_t<F>&>> thread_pool::submit(F&& f) {
    using result = std::invoke_result_t<std::decay_t<F>&>;
    auto job = std::make_unique<detail::submit_job<std::decay_t<F>, result>>(std::forward<F>(f));
    std::future<result> out = job->m_promise.get_future();
    post(*job);
    job.release(); // the pool runs or drops it, and the job deletes itself then
    return out;
}

} // namespace corio

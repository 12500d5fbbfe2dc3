#pragma once

#include "corio/core/cancelled_error.hpp"
#include "corio/core/detail/task_header.hpp"
#include "corio/runtime/detail/remote_queue.hpp"
#include "corio/runtime/thread_pool.hpp"

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

/// Where a to_thread job is in its life. Moves from queued to exactly one of running (a worker
/// or shutdown claimed it) or cancelled (the awaiter gave up before it started); the two sides
/// race for it with a compare-exchange, so a cancelled job is never run.
enum class thread_job_state : std::uint8_t { queued, running, cancelled };

/// The part of a to_thread job that does not depend on the callable: one heap object that is
/// the pool's queue entry, then the completion message posted back to the awaiting loop, so a
/// to_thread call costs one allocation.
///
/// Ownership: two references, the awaiter's (held by the awaiting frame until it is destroyed)
/// and the pool side's (held by the pool queue, then the worker, then the loop's inbox until it
/// disposes of the message). Either side may let go first; the last one deletes the job.
class thread_job_base : public pool_job, public remote_call {
  public:
    /// Binds the job to the awaiting task's loop and queues it on `executor` (the loop's default
    /// executor when null). Called by the awaiter, on the loop thread. On error nothing is
    /// queued and the job stays the awaiter's alone.
    ///
    /// Errors: std::logic_error if the task is not run by an event_loop; std::runtime_error if
    /// the executor has shut down; std::system_error if no worker thread could be started.
    void start(task_header& waiter, thread_pool* executor);

    /// The awaiter stops waiting (cancellation, or its frame is destroyed while suspended): the
    /// job will not wake it, a job that has not started never will, and a running one gets a
    /// stop request. Loop thread.
    void abandon() noexcept;

    /// True while a task waits for the job: from start() until the completion has been
    /// delivered (run()) or the wait abandoned. Loop thread.
    [[nodiscard]] bool awaited() const noexcept { return m_waiter != nullptr; }

    /// Drops one reference; the last one deletes the job. Any thread.
    void release() noexcept {
        // acq_rel: the side that deletes must see every write of the other side (the worker's
        // result, the awaiter's reads), and its own writes must precede the other's delete.
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

  protected:
    thread_job_base() noexcept = default;

    /// Claims a queued job for a worker (or for shutdown's drop). False if it was cancelled.
    bool claim() noexcept {
        thread_job_state expected = thread_job_state::queued;
        // acq_rel pairs with abandon(): exactly one of the two moves wins.
        return m_state.compare_exchange_strong(expected, thread_job_state::running,
                                               std::memory_order_acq_rel);
    }
    /// Posts the finished job back to the awaiting loop, handing the pool side's reference to
    /// the loop's inbox; drops it if the loop has closed. Worker thread.
    void complete() noexcept;
    /// pool_job::m_drop for every job: the pool shut down before the job started.
    static void drop(pool_job* j) noexcept;

    /// Requests a stop of the running callable if it takes a std::stop_token.
    virtual void request_stop() noexcept {}

    /// Set by the worker (or drop) before complete(); read on the loop thread after the
    /// completion arrives. The inbox's mutex orders the two.
    std::exception_ptr m_exception;

  private:
    // remote_call: delivered on the loop thread.
    void run() override;
    void dispose() noexcept override { release(); }

    /// The task to wake on completion; null once woken or abandoned. Loop thread only.
    task_header* m_waiter = nullptr;
    /// The awaiting loop's inbox. Shared, so that a pool that outlives the loop posts into a
    /// closed queue instead of a dangling one.
    std::shared_ptr<remote_queue> m_inbox;
    std::atomic<std::uint32_t> m_refs{1};
    std::atomic<thread_job_state> m_state{thread_job_state::queued};
};

/// What a callable returns, as the awaiter stores it: a pointer for an lvalue reference, an
/// optional for a value, nothing for void.
template <typename R>
struct thread_result {
    using value_type = std::remove_cvref_t<R>;
    std::optional<value_type> m_value;
    template <typename Invoke>
    void store(Invoke&& call) {
        m_value.emplace(std::forward<Invoke>(call)());
    }
    value_type take() { return std::move(*m_value); }
};
template <typename R>
struct thread_result<R&> {
    R* m_value = nullptr;
    template <typename Invoke>
    void store(Invoke&& call) {
        m_value = std::addressof(std::forward<Invoke>(call)());
    }
    R& take() { return *m_value; }
};
template <>
struct thread_result<void> {
    template <typename Invoke>
    void store(Invoke&& call) {
        std::forward<Invoke>(call)();
    }
    void take() {}
};

struct no_stop_source {};

/// A to_thread job for the callable F with bound arguments Args (decayed copies, invoked as
/// rvalues, as std::thread does). A callable whose first parameter is a std::stop_token gets
/// the token of a stop source owned by the job.
template <typename F, typename... Args>
class thread_job final : public thread_job_base {
  public:
    static constexpr bool takes_stop_token = std::is_invocable_v<F, std::stop_token, Args...>;
    using invoke_result =
        typename std::conditional_t<takes_stop_token,
                                    std::invoke_result<F, std::stop_token, Args...>,
                                    std::invoke_result<F, Args...>>::type;
    using result_type = decltype(std::declval<thread_result<invoke_result>&>().take());

    template <typename G, typename... A>
    explicit thread_job(G&& f, A&&... args)
        : m_fn(std::forward<G>(f)), m_args(std::forward<A>(args)...) {
        m_run = &work;
        m_drop = &drop;
    }

    /// The callable's result, or its exception rethrown. Loop thread, once completed.
    result_type take() {
        if (m_exception)
            std::rethrow_exception(m_exception);
        return m_result.take();
    }

  private:
    static void work(pool_job* j) noexcept {
        auto* self = static_cast<thread_job*>(j);
        if (!self->claim()) {
            self->release(); // cancelled before it started: never run
            return;
        }
        try {
            self->m_result.store([self]() -> invoke_result { return self->invoke(); });
        } catch (...) {
            self->m_exception = std::current_exception();
        }
        self->complete();
    }

    invoke_result invoke() {
        return std::apply(
            [this](Args&... args) -> invoke_result {
                if constexpr (takes_stop_token)
                    return std::invoke(std::move(m_fn), m_stop.get_token(), std::move(args)...);
                else
                    return std::invoke(std::move(m_fn), std::move(args)...);
            },
            m_args);
    }

    void request_stop() noexcept override {
        if constexpr (takes_stop_token)
            m_stop.request_stop(); // thread-safe against the worker's get_token()
    }

    F m_fn;
    std::tuple<Args...> m_args;
    [[no_unique_address]] std::conditional_t<takes_stop_token, std::stop_source, no_stop_source>
        m_stop;
    thread_result<invoke_result> m_result;
};

/// The awaitable of to_thread and event_loop::run_in_executor. It holds the awaiter's reference
/// to the job; the wait node lives in the awaiting frame.
template <typename Job>
class [[nodiscard]] thread_awaiter : wait_node {
  public:
    thread_awaiter(Job* job, thread_pool* executor) noexcept : m_job(job), m_executor(executor) {
        m_kind = &s_wait_kind;
    }
    thread_awaiter(const thread_awaiter&) = delete;
    thread_awaiter& operator=(const thread_awaiter&) = delete;
    ~thread_awaiter() {
        // Exchanged so that a second destruction (g++ 12's co_await temporaries, DESIGN.md)
        // cannot drop the reference twice.
        if (Job* job = std::exchange(m_job, nullptr)) {
            // A frame destroyed while suspended (its loop closed) gives up the wait like a
            // cancel.
            if (job->awaited())
                job->abandon();
            job->release();
        }
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_task = &this_task("to_thread");
        if (m_task->m_must_cancel)
            return false; // await_resume throws; the callable never runs
        m_job->start(*m_task, m_executor);
        m_task->suspend(*this, h);
        return true;
    }
    typename Job::result_type await_resume() {
        m_task->throw_if_cancelled();
        // The wait was withdrawn but the request uncancel()ed before the task resumed: the
        // result does not exist, so the cancellation still stands.
        if (m_abandoned) [[unlikely]]
            throw cancelled_error();
        return m_job->take();
    }

  private:
    static void on_cancel(wait_node* w, task_header& t) noexcept {
        auto* self = static_cast<thread_awaiter*>(w);
        self->m_job->abandon();
        self->m_abandoned = true;
        t.m_must_cancel = true;
        t.wake();
    }

    Job* m_job;
    thread_pool* m_executor;
    task_header* m_task = nullptr;
    bool m_abandoned = false;
    static constexpr wait_kind s_wait_kind{&on_cancel, "to_thread"};
};

template <typename F, typename... Args>
using thread_job_for = thread_job<std::decay_t<F>, std::decay_t<Args>...>;

/// What to_thread accepts: a callable invocable with the (decayed) arguments, optionally after
/// a leading std::stop_token.
template <typename F, typename... Args>
concept thread_callable =
    std::is_invocable_v<std::decay_t<F>, std::stop_token, std::decay_t<Args>...> ||
    std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>;

/// Allocates the job for `f(args...)` and returns its awaitable; a null `executor` means the
/// awaiting loop's default executor.
template <typename F, typename... Args>
thread_awaiter<thread_job_for<F, Args...>> make_thread_awaiter(thread_pool* executor, F&& f,
                                                               Args&&... args) {
    using job = thread_job_for<F, Args...>;
    return thread_awaiter<job>(new job(std::forward<F>(f), std::forward<Args>(args)...), executor);
}

} // namespace detail

/// Runs `f(args...)` on the running loop's default executor (a thread_pool sized by
/// loop_options::default_executor_threads) and awaits its result (asyncio's to_thread), so that
/// blocking or CPU-bound work does not hold up the loop. `f` and `args` are decay-copied into
/// the job and invoked as rvalues on a worker thread, as std::thread does; pass std::ref to
/// share an object. The result is returned by value (moved; move-only types work), or as a
/// reference if `f` returns an lvalue reference. One allocation per call. The job, with `f`,
/// its arguments and its result, may be destroyed on the worker thread.
///
/// Cancellation: cancelling the awaiting task makes this throw cancelled_error at once, without
/// waiting for `f`. If `f` had not started it never runs. If it is running it cannot be
/// interrupted: it runs to its end on its worker and its result or exception is discarded —
/// unless `f` takes a std::stop_token as its first parameter, in which case a stop is requested
/// on that token so that `f` can return early. A cancellation that arrives after `f` finished
/// but before the task resumed also throws cancelled_error, and the result is lost (asyncio).
/// When the loop closes, the awaiting tasks are dropped the same way, and close() waits for the
/// callables still running in the default executor.
///
/// Errors: whatever `f` throws, rethrown in the awaiting task; std::logic_error outside a task
/// run by an event_loop; std::runtime_error if the executor has shut down, or shuts down before
/// `f` started (shutdown drops queued jobs); std::system_error if no worker thread could be
/// started; std::bad_alloc.
///
/// g++ 12 destroys a capturing lambda written inside the co_await expression twice
/// (DESIGN.md, Known pitfalls): name the callable in a local first, as below.
///
/// Example:
/// @code
/// auto read = [&path] { return slurp(path); }; // a blocking read
/// std::string text = co_await corio::to_thread(read);
///
/// auto sum = [](std::stop_token st, int n) {
///     long s = 0;
///     for (int i = 0; i < n && !st.stop_requested(); ++i)
///         s += i;
///     return s;
/// };
/// long s = co_await corio::to_thread(sum, 1000);
/// @endcode
template <typename F, typename... Args>
requires detail::thread_callable<F, Args...>
    detail::thread_awaiter<detail::thread_job_for<F, Args...>> to_thread(F&& f, Args&&... args) {
    return detail::make_thread_awaiter(nullptr, std::forward<F>(f), std::forward<Args>(args)...);
}

} // namespace corio

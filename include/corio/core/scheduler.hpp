#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/detail/timer_queue.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace corio {

/// What the loop tells its exception handler: an error that nobody else could receive.
struct exception_context {
    /// What happened, e.g. "Task exception was never retrieved".
    std::string message;
    /// The exception, or null when the report is not about one (a task destroyed while pending).
    std::exception_ptr exception;
    /// The task concerned, or empty.
    std::string task_name;
};

/// Receives the life cycle of every task of a loop. Implemented by runtime/trace; all calls are
/// made on the loop thread and must not throw.
class task_observer {
  public:
    virtual ~task_observer() = default;
    virtual void on_create(const detail::task_header& t) noexcept = 0;
    /// The task got the CPU.
    virtual void on_run(const detail::task_header& t) noexcept = 0;
    /// The task left the CPU to wait on `what`.
    virtual void on_suspend(const detail::task_header& t, const char* what) noexcept = 0;
    /// The wait ended; the task is ready and queued for the CPU.
    virtual void on_wake(const detail::task_header& t) noexcept = 0;
    /// The task finished (the current run slice ends here).
    virtual void on_done(const detail::task_header& t) noexcept = 0;
};

/// How a loop tells time.
enum class clock_mode {
    /// The monotonic clock (std::chrono::steady_clock).
    real,
    /// A test clock: when no task is ready and a poll of the I/O finds nothing in motion (no
    /// completion delivered, nothing handed to the kernel), time jumps to the next timer, so a
    /// test of a 30 s timeout takes microseconds. While I/O operations are pending, time jumps
    /// only once the loop has been idle for 20 ms of real time (it waits in the kernel until
    /// then), so loopback traffic that the kernel delays under load does not look like silence.
    /// It starts at steady_clock's epoch + 1 s.
    virtual_time,
};

namespace detail {

/// A callback queued by call_soon / call_later. Reference-counted between the loop and the
/// handle the caller holds.
struct callback_base : runnable, timer_node {
    scheduler* m_sched = nullptr;
    std::int64_t m_when = 0; // deadline for call_later, in loop nanoseconds
    std::uint32_t m_refs = 1;
    bool m_cancelled = false;

    callback_base() = default;
    callback_base(const callback_base&) = delete;
    callback_base& operator=(const callback_base&) = delete;
    virtual ~callback_base() = default;
    virtual void invoke() = 0;

    void release() noexcept {
        if (--m_refs == 0)
            delete this;
    }
};

template <typename F>
struct callback_node final : callback_base {
    // A template so that an lvalue callable is copied (F is the decayed type).
    template <typename G>
    explicit callback_node(G&& f) : m_fn(std::forward<G>(f)) {}
    void invoke() override { m_fn(); }
    F m_fn;
};

} // namespace detail

/// A callback scheduled with call_soon, call_later or call_at (asyncio's Handle/TimerHandle).
/// Dropping the handle does not cancel the callback.
class callback_handle {
  public:
    callback_handle() noexcept = default;
    explicit callback_handle(detail::callback_base* cb) noexcept : m_cb(cb) {
        if (m_cb)
            ++m_cb->m_refs;
    }
    callback_handle(const callback_handle& o) noexcept : callback_handle(o.m_cb) {}
    callback_handle(callback_handle&& o) noexcept : m_cb(std::exchange(o.m_cb, nullptr)) {}
    callback_handle& operator=(callback_handle o) noexcept {
        std::swap(m_cb, o.m_cb);
        return *this;
    }
    ~callback_handle() {
        if (m_cb)
            m_cb->release();
    }

    /// Prevents the callback from running if it has not run yet. Idempotent. Must be called on
    /// the loop thread.
    void cancel() noexcept;
    /// True once cancel() has been called.
    [[nodiscard]] bool cancelled() const noexcept { return m_cb && m_cb->m_cancelled; }
    /// For call_later/call_at handles: the loop time at which the callback is due.
    [[nodiscard]] std::chrono::steady_clock::time_point when() const noexcept;

  private:
    detail::callback_base* m_cb = nullptr;
};

/// The platform-independent core of an event loop: the ready queue, the timer heap and the
/// registry of tasks, with the step logic that runs them. runtime/event_loop derives from it and
/// adds the I/O backend; nothing here talks to the OS.
///
/// A scheduler belongs to one thread. Only the members documented as thread-safe in the derived
/// event_loop may be used from another thread.
class scheduler {
  public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;
    using duration = clock::duration;
    using exception_handler = std::function<void(scheduler&, const exception_context&)>;
    using warning_handler = std::function<void(std::string_view)>;

    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;
    virtual ~scheduler();

    /// The loop running on this thread, or null (asyncio's get_running_loop, without throwing).
    [[nodiscard]] static scheduler* current() noexcept { return t_current; }

    /// The loop's current time: steady_clock, or the virtual clock.
    [[nodiscard]] time_point time() const noexcept { return time_point(duration(now_ns())); }
    [[nodiscard]] clock_mode clock_kind() const noexcept { return m_clock; }

    /// Schedules `f()` to run on the next iteration of the loop, after the work already queued.
    /// An exception escaping `f` goes to the exception handler. Errors: std::bad_alloc.
    template <typename F>
    callback_handle call_soon(F&& f) {
        auto* cb = new detail::callback_node<std::decay_t<F>>(std::forward<F>(f));
        return enqueue_callback(cb);
    }
    /// Schedules `f()` to run once `delay` has elapsed on the loop's clock.
    template <typename F>
    callback_handle call_later(duration delay, F&& f) {
        return call_at(time() + delay, std::forward<F>(f));
    }
    /// Schedules `f()` to run at loop time `when`. Callbacks due at the same time run in the order
    /// they were scheduled.
    template <typename F>
    callback_handle call_at(time_point when, F&& f) {
        auto* cb = new detail::callback_node<std::decay_t<F>>(std::forward<F>(f));
        return arm_callback(cb, when);
    }

    /// Runs until stop() is called. Errors: std::logic_error if a loop is already running on this
    /// thread or this loop is closed.
    void run_forever();
    /// Makes run_forever return after the current iteration. Safe to call before run_forever
    /// (it then returns after one iteration), as in asyncio.
    void stop() noexcept { m_stopping = true; }
    [[nodiscard]] bool is_running() const noexcept { return m_running; }

    /// Replaces the handler for errors nobody could receive (unretrieved task exceptions,
    /// exceptions escaping callbacks, tasks destroyed while pending). An empty function restores
    /// the default, which prints to stderr.
    void set_exception_handler(exception_handler h) { m_exception_handler = std::move(h); }
    /// Passes `ctx` to the exception handler. A handler that throws is reported to stderr.
    void call_exception_handler(const exception_context& ctx) noexcept;
    /// Prints `ctx` to stderr: message, task name, and the exception's what().
    static void default_exception_handler(const exception_context& ctx) noexcept;

    /// Debug mode: warns about callbacks and task steps that hold the loop longer than
    /// slow_callback_duration (default 100 ms).
    void set_debug(bool on) noexcept { m_debug = on; }
    [[nodiscard]] bool get_debug() const noexcept { return m_debug; }
    void set_slow_callback_duration(duration d) noexcept { m_slow_threshold = d; }
    [[nodiscard]] duration slow_callback_duration() const noexcept { return m_slow_threshold; }
    /// Where debug warnings go; the default prints "corio: <text>" to stderr.
    void set_warning_handler(warning_handler h) { m_warning_handler = std::move(h); }
    void warn(std::string_view text) const;

    /// Installs a task observer (tracing); null removes it. The observer must outlive its
    /// installation.
    void set_observer(task_observer* o) noexcept { m_observer = o; }
    [[nodiscard]] task_observer* observer() const noexcept { return m_observer; }

    /// Number of live (not finished) root tasks.
    [[nodiscard]] std::size_t task_count() const noexcept { return m_task_count; }
    /// Number of timers armed (sleeps, timeouts, call_later callbacks).
    [[nodiscard]] std::size_t timer_count() const noexcept { return m_timers.size(); }

    // --- for awaitables and the core algorithms (not for application code) -------------

    /// Appends `r` to the ready queue. `r` must not already be queued.
    void schedule(detail::runnable& r) noexcept {
        r.m_next_ready = nullptr;
        if (m_ready_tail)
            m_ready_tail->m_next_ready = &r;
        else
            m_ready_head = &r;
        m_ready_tail = &r;
    }
    /// Arms `n` to fire at `when` (re-arms it if armed). Errors: std::bad_alloc.
    void arm_timer(detail::timer_node& n, time_point when) {
        m_timers.arm(n, when.time_since_epoch().count());
    }
    void cancel_timer(detail::timer_node& n) noexcept { m_timers.cancel(n); }

    /// Registers a root task whose frame is `h` and queues its first step. Used by create_task.
    void start_task(detail::task_header& t, std::coroutine_handle<> h, std::string_view name);
    /// Called from a root task's final suspend point: records completion and wakes observers.
    void finish_task(detail::task_header& t) noexcept;
    /// The name of a task ("Task-<id>" unless it was named).
    static std::string task_name(const detail::task_header& t);
    /// The task whose coroutine chain is running now, or null.
    [[nodiscard]] detail::task_header* running_task() const noexcept {
        detail::task_header* t = detail::t_running_task;
        return t && t->m_sched == this ? t : nullptr;
    }
    /// First live root task; follow m_next_task for the rest.
    [[nodiscard]] detail::task_header* first_task() const noexcept { return m_tasks; }

  protected:
    explicit scheduler(clock_mode mode);

    /// Waits for I/O for at most `timeout` (nullopt: until something happens), and queues the
    /// work it completes. Returns true when the I/O may not have settled: a poll right after
    /// could complete more (see backend::wait), so the virtual clock must not jump yet.
    /// Implemented by the event loop over its backend.
    virtual bool poll_io(std::optional<duration> timeout) = 0;
    /// True when I/O operations wait in the backend: completions may still come from the
    /// kernel. The virtual clock gives them a real-time grace period before jumping.
    [[nodiscard]] virtual bool io_pending() const noexcept { return false; }

    /// One iteration: run ready work, poll I/O, fire due timers.
    void run_once();
    /// Releases the loop's reference to every unfinished task, reporting each as destroyed while
    /// pending; their frames go when their handles do. Called when the loop closes.
    void abandon_tasks() noexcept;
    /// Drops queued callbacks and disarms timers of callbacks that will never run.
    void drop_callbacks() noexcept;
    [[nodiscard]] bool has_ready() const noexcept { return m_ready_head != nullptr; }

  private:
    [[nodiscard]] std::int64_t now_ns() const noexcept;
    /// Virtual clock: how long to wait for I/O in real time before time may jump (zero: it may).
    [[nodiscard]] duration settle_wait() const noexcept;
    callback_handle enqueue_callback(detail::callback_base* cb) noexcept;
    callback_handle arm_callback(detail::callback_base* cb, time_point when);
    void run_ready(detail::runnable& r) noexcept;
    static void run_task(detail::runnable* r) noexcept;
    static void run_callback(detail::runnable* r) noexcept;
    static void fire_callback(detail::timer_node* n) noexcept;

    // The loop running on this thread. One loop per thread (DESIGN.md), so a thread_local is
    // enough; set only inside run_forever. constinit: read inline with one load.
    static inline constinit thread_local scheduler* t_current = nullptr;

    // Ready queue: FIFO, intrusive. Invariant: a runnable is in it at most once.
    detail::runnable* m_ready_head = nullptr;
    detail::runnable* m_ready_tail = nullptr;

    detail::timer_queue m_timers;

    // Live root tasks, newest first. Invariant: every task with m_sched == this and state != done
    // is in this list; m_task_count is its length.
    detail::task_header* m_tasks = nullptr;
    std::size_t m_task_count = 0;
    std::uint64_t m_next_task_id = 1;

    task_observer* m_observer = nullptr;

    exception_handler m_exception_handler;
    warning_handler m_warning_handler;

    clock_mode m_clock;
    std::int64_t m_virtual_now = 0; // used when m_clock == virtual_time
    // Virtual clock only: the real (steady) time at which a poll last queued work, or at which
    // work that started within 20 ms of that (see run_once) ended. Loopback delivery can lag a send
    // by milliseconds when the kernel defers it (to ksoftirqd, under load), so one poll that finds
    // nothing right after traffic does not prove the I/O idle; time jumps only after a quiet spell
    // (see settle_wait()).
    std::int64_t m_last_busy_real = 0;

    duration m_slow_threshold = std::chrono::milliseconds(100);
    bool m_debug = false;
    bool m_running = false;
    bool m_stopping = false;
};

} // namespace corio

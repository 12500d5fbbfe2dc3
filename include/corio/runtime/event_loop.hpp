#pragma once

#include "corio/core/create_task.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/runtime/detail/remote_queue.hpp"
#include "corio/runtime/loop_handle.hpp"
#include "corio/runtime/loop_options.hpp"
#include "corio/runtime/thread_pool.hpp"
#include "corio/runtime/to_thread.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace corio {

class event_loop;

namespace detail {
class backend;
class fd_watchers;
void run_main(event_loop& loop, task_ref main);

/// Per-loop state of a layer above runtime/ (signal handlers, the child reaper of process/),
/// attached to the loop at first use and told when the loop closes. Not for applications.
class loop_extension {
  public:
    loop_extension() = default;
    loop_extension(const loop_extension&) = delete;
    loop_extension& operator=(const loop_extension&) = delete;
    virtual ~loop_extension() = default;
    /// Called by event_loop::close() after the tasks were released, before the default executor
    /// shuts down; the backend is still there. The extension is destroyed right after.
    virtual void on_close() noexcept {}
};
} // namespace detail

/// The event loop (asyncio's loop): a queue of ready tasks and callbacks, a heap of timers, and
/// an I/O backend (epoll by default; see loop_options::backend) that sleeps in the kernel when
/// nothing is ready.
///
/// One loop per thread; a loop is used only on the thread that runs it, except through its
/// loop_handle (call_soon_threadsafe). Most programs never build one: corio::run does.
///
/// Example:
/// @code
/// corio::event_loop loop;
/// int v = loop.run_until_complete(compute());
/// @endcode
class event_loop final : public scheduler {
  public:
    /// Errors: std::invalid_argument for an unknown backend name; std::system_error if the
    /// kernel refuses the backend's resources.
    explicit event_loop(loop_options options = {});
    ~event_loop() override;

    /// Runs `t` as a task until it completes and returns its result (asyncio's
    /// run_until_complete). Other tasks run meanwhile and stay scheduled afterwards.
    ///
    /// Errors: the task's exception; cancelled_error if it was cancelled; std::runtime_error if
    /// stop() ended the loop first; std::logic_error if the loop is closed or already running.
    template <typename T>
    T run_until_complete(task<T> t) {
        task_handle<T> h = create_task(std::move(t));
        run_until_done(h);
        return h.promise().take_result();
    }

    /// Schedules `t` on this loop (it may be called before the loop runs).
    template <typename T>
    task_handle<T> create_task(task<T> t, std::string_view name = {}) {
        check_open();
        return corio::create_task(*this, std::move(t), name);
    }

    /// Thread-safe: schedules `f()` on the loop's thread and wakes it. See loop_handle.
    template <typename F>
    void call_soon_threadsafe(F&& f) const {
        handle().call_soon_threadsafe(std::forward<F>(f));
    }
    /// A thread-safe handle for posting work from other threads.
    [[nodiscard]] loop_handle handle() const noexcept { return loop_handle(m_remote); }

    /// Runs `f(args...)` on `executor` (the loop's default executor when null) and returns an
    /// awaitable for its result (asyncio's run_in_executor). Await it in a task: the result is
    /// delivered to the loop of the awaiting task. Cancellation and errors are to_thread's;
    /// asking for the default executor of a closed loop throws std::logic_error.
    ///
    /// Example: `int v = co_await loop.run_in_executor(&pool, compute, 42);`
    template <typename F, typename... Args>
    requires detail::thread_callable<F, Args...>
    auto run_in_executor(thread_pool* executor, F&& f, Args&&... args) {
        return detail::make_thread_awaiter(executor ? executor : &default_executor(),
                                           std::forward<F>(f), std::forward<Args>(args)...);
    }

    /// The loop's default executor, the pool behind to_thread: created at first use with
    /// loop_options::default_executor_threads workers at most, and shut down (queued jobs
    /// dropped, running ones waited for) when the loop closes. Loop thread only.
    /// Errors: std::logic_error if the loop is closed; std::bad_alloc.
    thread_pool& default_executor();

    /// Closes the loop: drops pending callbacks, reports and releases unfinished tasks, refuses
    /// further thread-safe calls, then shuts the default executor down, which waits for the
    /// callables still running in it (asyncio's shutdown_default_executor). Idempotent.
    /// Errors: std::logic_error while running.
    void close();
    [[nodiscard]] bool is_closed() const noexcept { return m_closed; }

    /// The name of the I/O backend in use: "epoll", "poll" or "io_uring" (after a fallback,
    /// the backend actually used).
    [[nodiscard]] const char* backend_name() const noexcept;
    /// The backend, for corio's I/O layers. Not for applications.
    [[nodiscard]] detail::backend& io_backend() const noexcept { return *m_backend; }
    /// The loop's thread-safe inbox, for corio's thread bridges (to_thread). Not for
    /// applications: they use handle().
    [[nodiscard]] const std::shared_ptr<detail::remote_queue>& inbox() const noexcept {
        return m_remote;
    }

    /// For corio's layers: the extension attached under `key`, or null.
    [[nodiscard]] detail::loop_extension* find_extension(const void* key) const noexcept;
    /// For corio's layers: attaches `ext` under `key` (replacing nothing: the key must be new).
    /// Errors: std::logic_error if the loop is closed; std::bad_alloc.
    detail::loop_extension& add_extension(const void* key,
                                          std::unique_ptr<detail::loop_extension> ext);

    /// The running loop of this thread, or null.
    [[nodiscard]] static event_loop* current() noexcept {
        return dynamic_cast<event_loop*>(scheduler::current());
    }

    /// Calls `callback()` on the loop each time `fd` is readable, until remove_reader(fd)
    /// (asyncio's add_reader). Replaces the callback of an fd already watched for reading. The
    /// fd stays the caller's; remove the reader before closing it, and do not mix this with
    /// other corio calls waiting on the same fd when the last watcher of it is removed.
    /// An exception escaping `callback` goes to the exception handler; the watch goes on.
    ///
    /// Errors: std::system_error (EBADF) for an invalid fd; std::logic_error if the loop is
    /// closed; std::bad_alloc.
    void add_reader(int fd, std::function<void()> callback);
    /// Stops watching `fd` for reading (asyncio's remove_reader). Returns true if it was watched.
    bool remove_reader(int fd) noexcept;
    /// Like add_reader, for writability (asyncio's add_writer).
    void add_writer(int fd, std::function<void()> callback);
    /// Stops watching `fd` for writability. Returns true if it was watched.
    bool remove_writer(int fd) noexcept;

  protected:
    bool poll_io(std::optional<duration> timeout) override;
    [[nodiscard]] bool io_pending() const noexcept override;

  private:
    friend void detail::run_main(event_loop& loop, task_ref main);

    void run_until_done(const task_ref& t);
    void check_open() const;
    void run_remote_calls() noexcept;

    std::unique_ptr<detail::backend> m_backend;
    // add_reader / add_writer watches, created at first use; destroyed before the backend.
    std::unique_ptr<detail::fd_watchers> m_fd_watchers;
    std::shared_ptr<detail::remote_queue> m_remote;
    // Called from poll_io when SIGINT arrived while corio::run installed its handler.
    std::function<void()> m_on_interrupt;
    std::size_t m_default_executor_threads = 0;
    // loop_options::cancel_main_on_sigterm, read by corio::run.
    bool m_sigterm_cancels_main = false;
    // Created by default_executor(); shut down by close().
    std::unique_ptr<thread_pool> m_default_executor;
    // Layers' per-loop state, in the order attached; closed in reverse order by close(),
    // before the backend goes (declared after it).
    std::vector<std::pair<const void*, std::unique_ptr<detail::loop_extension>>> m_extensions;
    bool m_closed = false;
};

} // namespace corio

#include "corio/runtime/loop_group.hpp"

#include "corio/core/detail/task_header.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/run.hpp"

#include <condition_variable>
#include <coroutine>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace corio {

namespace {

/// Suspends the calling task until it is cancelled: the main task of a loop_group loop, which
/// keeps the loop running until stop() cancels it.
class park_awaiter : detail::wait_node {
  public:
    park_awaiter() noexcept { m_kind = &s_wait_kind; }
    park_awaiter(const park_awaiter&) = delete;
    park_awaiter& operator=(const park_awaiter&) = delete;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_task = &detail::this_task("loop_group");
        if (m_task->m_must_cancel)
            return false;
        m_task->suspend(*this, h);
        return true;
    }
    void await_resume() { m_task->throw_if_cancelled(); }

  private:
    static void on_cancel(detail::wait_node*, detail::task_header& t) noexcept {
        t.m_must_cancel = true;
        t.wake();
    }

    detail::task_header* m_task = nullptr;
    static constexpr detail::wait_kind s_wait_kind{&on_cancel, "loop_group"};
};

task<void> park_until_cancelled() {
    park_awaiter a;
    co_await a;
}

} // namespace

struct loop_group::slot {
    std::thread thread;
    // Written by the loop thread before it reports to the constructor; read-only afterwards.
    loop_handle handle;
    // The loop's main task. Touched only on the loop thread (stop() posts the cancel there).
    task_ref main;
    // Written by the loop thread before it ends; read after joining it.
    std::exception_ptr failure;
};

/// The constructor's rendezvous with the loop threads.
struct loop_group::startup {
    std::mutex mutex;
    std::condition_variable done;
    std::size_t reported = 0;   // threads that have a running loop, or failed to build one
    std::exception_ptr failure; // the first failure to build a loop
};

void loop_group::run_loop(slot& s, const loop_options& options, startup& st) noexcept {
    bool reported = false;
    auto report = [&](std::exception_ptr failure) {
        std::lock_guard lock(st.mutex);
        if (failure && !st.failure)
            st.failure = std::move(failure);
        ++st.reported;
        reported = true;
        st.done.notify_all(); // under the lock: `st` lives in the constructor's frame
    };
    try {
        event_loop loop(options);
        task_handle<void> main = loop.create_task(park_until_cancelled(), "loop_group");
        s.main = main;
        s.handle = loop.handle();
        report(nullptr);
        try {
            detail::run_main(loop, main);
        } catch (...) {
            s.failure = std::current_exception();
        }
        s.main = task_ref(); // references must not outlive the loop
    } catch (...) {
        if (!reported)
            report(std::current_exception());
        else
            s.failure = std::current_exception();
    }
}

loop_group::loop_group(std::size_t n, loop_options options) {
    if (n == 0)
        throw std::invalid_argument("corio::loop_group: the group needs at least one loop");
    m_slots.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        m_slots.push_back(std::make_unique<slot>());
    startup st;
    std::size_t started = 0;
    std::exception_ptr failure;
    try {
        for (; started < n; ++started) {
            slot& s = *m_slots[started];
            s.thread = std::thread([&s, &options, &st] { run_loop(s, options, st); });
        }
    } catch (...) {
        failure = std::current_exception();
    }
    {
        std::unique_lock lock(st.mutex);
        st.done.wait(lock, [&] { return st.reported == started; });
        if (!failure)
            failure = st.failure;
    }
    if (failure) {
        stop();
        for (std::size_t i = 0; i < started; ++i)
            m_slots[i]->thread.join();
        std::rethrow_exception(failure);
    }
}

loop_group::~loop_group() {
    stop();
    try {
        join();
    } catch (...) { // a loop failure nobody asked for; the destructor cannot throw it
    }
}

loop_handle loop_group::handle(std::size_t i) const {
    if (i >= m_slots.size())
        throw std::out_of_range("corio::loop_group: no loop " + std::to_string(i));
    return m_slots[i]->handle;
}

void loop_group::stop() noexcept {
    for (const std::unique_ptr<slot>& s : m_slots) {
        slot* target = s.get();
        try {
            s->handle.call_soon_threadsafe([target] { target->main.cancel(); });
        } catch (...) { // the loop has already closed (or never ran): nothing to stop
        }
    }
}

void loop_group::join() {
    for (const std::unique_ptr<slot>& s : m_slots) {
        if (s->thread.joinable())
            s->thread.join();
    }
    for (const std::unique_ptr<slot>& s : m_slots) {
        if (s->failure)
            std::rethrow_exception(s->failure);
    }
}

namespace {

/// What the threads of run_parallel share: the first failure, and how to reach each loop's
/// main task to cancel it when a sibling fails.
struct parallel_state {
    std::mutex mutex;
    // Guarded by mutex.
    std::exception_ptr failure;
    std::vector<loop_handle> handles;
    // Element i is touched only on thread i (cancels are posted there).
    std::vector<task_ref> mains;

    explicit parallel_state(std::size_t n) : handles(n), mains(n) {}

    /// Posts a cancel of every main but `except`'s. Caller holds the mutex.
    void cancel_others(std::size_t except) noexcept {
        for (std::size_t j = 0; j < handles.size(); ++j) {
            if (j == except)
                continue;
            try {
                handles[j].call_soon_threadsafe([this, j] { mains[j].cancel(); });
            } catch (...) { // not registered yet (it will see `failure`), or already closed
            }
        }
    }

    void fail(std::size_t index, std::exception_ptr e) {
        std::lock_guard lock(mutex);
        if (failure)
            return;
        failure = std::move(e);
        cancel_others(index);
    }
};

void run_one(parallel_state& st, std::size_t index,
             const std::function<task<void>(std::size_t)>& main, const loop_options& options) {
    try {
        event_loop loop(options);
        task_handle<void> h = loop.create_task(main(index), "main");
        st.mains[index] = h;
        {
            std::lock_guard lock(st.mutex);
            st.handles[index] = loop.handle();
            if (st.failure)
                h.cancel(); // a sibling failed before this loop could be reached
        }
        try {
            detail::run_main(loop, h);
        } catch (...) {
            st.mains[index] = task_ref();
            throw;
        }
        st.mains[index] = task_ref(); // references must not outlive the loop
        h.promise().take_result();
    } catch (...) {
        st.fail(index, std::current_exception());
    }
}

} // namespace

void run_parallel(std::size_t n, const std::function<task<void>(std::size_t index)>& main,
                  loop_options options) {
    if (n == 0)
        throw std::invalid_argument("corio::run_parallel: needs at least one loop");
    if (!main)
        throw std::invalid_argument("corio::run_parallel: empty main");
    parallel_state st(n);
    std::vector<std::thread> threads;
    threads.reserve(n - 1);
    try {
        for (std::size_t i = 1; i < n; ++i)
            threads.emplace_back([&st, &main, &options, i] { run_one(st, i, main, options); });
    } catch (...) {
        st.fail(0, std::current_exception());
    }
    // Index 0 runs here, unless a thread could not even be started.
    bool failed_early = false;
    {
        std::lock_guard lock(st.mutex);
        failed_early = st.failure != nullptr;
    }
    if (!failed_early)
        run_one(st, 0, main, options);
    for (std::thread& t : threads)
        t.join();
    if (st.failure)
        std::rethrow_exception(st.failure);
}

} // namespace corio

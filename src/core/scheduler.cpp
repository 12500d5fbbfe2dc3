#include "corio/core/scheduler.hpp"

#include "corio/core/cancelled_error.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace corio {

namespace {

// Ready work run per iteration before I/O and timers get a turn. Large enough that the per-
// iteration cost (clock read, I/O poll) is amortised over many task steps; small enough that a
// task yielding in a loop cannot delay I/O for long.
constexpr int ready_budget = 256;

std::string describe(const std::exception_ptr& e) {
    if (!e)
        return {};
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "unknown exception";
    }
}

std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

} // namespace

void callback_handle::cancel() noexcept {
    if (!m_cb || m_cb->m_cancelled)
        return;
    m_cb->m_cancelled = true;
    if (m_cb->armed()) {
        // Not fired yet: the timer held the loop's reference.
        m_cb->m_sched->cancel_timer(*m_cb);
        m_cb->release();
    }
    // Otherwise it is in the ready queue (which drops it unrun) or has already run.
}

std::chrono::steady_clock::time_point callback_handle::when() const noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::nanoseconds(m_cb ? m_cb->m_when : 0)));
}

scheduler::scheduler(clock_mode mode) : m_clock(mode) {
    if (m_clock == clock_mode::virtual_time)
        m_virtual_now = std::chrono::nanoseconds(std::chrono::seconds(1)).count();
}

scheduler::~scheduler() {
    // The derived loop's close() normally did this already; repeat it for a loop that was
    // never closed so that nothing it owns leaks.
    drop_callbacks();
    abandon_tasks();
    if (t_current == this)
        t_current = nullptr;
}

std::int64_t scheduler::now_ns() const noexcept {
    return m_clock == clock_mode::virtual_time ? m_virtual_now : steady_ns();
}

namespace {
// Long enough to cover a softirq deferred to ksoftirqd on a loaded machine; short enough that a
// test which idles after traffic (a 30 s keep-alive timeout) still takes only this long.
constexpr std::int64_t settle_ns = std::chrono::nanoseconds(std::chrono::milliseconds(20)).count();
} // namespace

scheduler::duration scheduler::settle_wait() const noexcept {
    if (!io_pending())
        return duration::zero();
    const std::int64_t left = m_last_busy_real + settle_ns - steady_ns();
    return left > 0 ? std::chrono::duration_cast<duration>(std::chrono::nanoseconds(left))
                    : duration::zero();
}

callback_handle scheduler::enqueue_callback(detail::callback_base* cb) noexcept {
    cb->m_sched = this;
    cb->m_run = &run_callback;
    // The queue holds the reference the node was created with; the handle takes its own.
    schedule(*cb);
    return callback_handle(cb);
}

callback_handle scheduler::arm_callback(detail::callback_base* cb, time_point when) {
    cb->m_sched = this;
    cb->m_run = &run_callback;
    cb->m_fire = &fire_callback;
    cb->m_when =
        std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
    try {
        m_timers.arm(*cb, cb->m_when);
    } catch (...) {
        delete cb;
        throw;
    }
    return callback_handle(cb);
}

void scheduler::fire_callback(detail::timer_node* n) noexcept {
    auto* cb = static_cast<detail::callback_base*>(n);
    // The reference held by the timer moves to the ready queue.
    cb->m_sched->schedule(*cb);
}

void scheduler::run_callback(detail::runnable* r) noexcept {
    auto* cb = static_cast<detail::callback_base*>(r);
    if (!cb->m_cancelled) {
        try {
            cb->invoke();
        } catch (...) {
            cb->m_sched->call_exception_handler(
                exception_context{"Exception in callback", std::current_exception(), {}});
        }
    }
    cb->release();
}

void scheduler::run_task(detail::runnable* r) noexcept {
    auto& t = static_cast<detail::task_header&>(*r);
    scheduler& s = *t.m_sched;
    detail::t_running_task = &t;
    t.m_state = detail::task_state::running;
    if (s.m_observer)
        s.m_observer->on_run(t);
    t.m_resume.resume();
    // The task may have finished and been destroyed: *r is off limits from here.
    detail::t_running_task = nullptr;
}

void scheduler::run_ready(detail::runnable& r) noexcept {
    if (!m_debug) [[likely]] {
        r.m_run(&r);
        return;
    }
    const bool is_task = r.m_run == &run_task;
    const std::string what =
        is_task ? "Task '" + task_name(static_cast<detail::task_header&>(r)) + "'" : "a callback";
    const auto start = std::chrono::steady_clock::now();
    r.m_run(&r);
    const auto took = std::chrono::steady_clock::now() - start;
    if (took >= m_slow_threshold) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3f", std::chrono::duration<double>(took).count());
        warn("executing " + what + " took " + buf + " seconds");
    }
}

void scheduler::run_once() {
    // Virtual clock: work that starts within the quiet spell of some I/O (tasks handling what
    // a poll delivered) extends the spell to its end, however long it computes; work that
    // starts after it (a timer's task) does not, so a loop of sleeps waits once, not per sleep.
    const bool settling = m_clock == clock_mode::virtual_time && m_ready_head &&
                          steady_ns() - m_last_busy_real < settle_ns;
    for (int budget = ready_budget; budget > 0 && m_ready_head; --budget) {
        detail::runnable* r = m_ready_head;
        m_ready_head = r->m_next_ready;
        if (!m_ready_head)
            m_ready_tail = nullptr;
        run_ready(*r);
    }

    if (settling)
        m_last_busy_real = steady_ns();

    std::optional<duration> timeout; // nullopt: sleep in the kernel until I/O or a wake-up
    if (m_ready_head || m_stopping) {
        timeout = duration::zero();
    } else if (!m_timers.empty()) {
        if (m_clock == clock_mode::virtual_time) {
            // A due timer needs no jump, so nothing to wait for either.
            timeout = m_timers.next_deadline() > m_virtual_now ? settle_wait() : duration::zero();
        } else {
            const std::int64_t wait = m_timers.next_deadline() - now_ns();
            timeout = std::chrono::duration_cast<duration>(
                std::chrono::nanoseconds(std::max<std::int64_t>(wait, 0)));
        }
    }
    const detail::runnable* const tail_before = m_ready_tail;
    const bool unsettled = poll_io(timeout);

    if (m_clock == clock_mode::virtual_time) {
        // The tail moves only when the poll queued work (a runnable is queued at most once).
        if (unsettled || m_ready_tail != tail_before)
            m_last_busy_real = steady_ns();
        else if (!m_timers.empty() && !m_ready_head && !m_stopping &&
                 settle_wait() == duration::zero())
            // Virtual time moves only when the loop is idle: nothing to run, and no I/O in
            // motion or expected.
            m_virtual_now = std::max(m_virtual_now, m_timers.next_deadline());
    }
    if (m_timers.empty())
        return;
    const std::int64_t now = now_ns();
    while (detail::timer_node* n = m_timers.pop_due(now))
        n->m_fire(n);
}

void scheduler::run_forever() {
    if (m_running)
        throw std::logic_error("corio: this event loop is already running");
    if (t_current)
        throw std::logic_error("corio: cannot run an event loop while another loop is running "
                               "on this thread");
    t_current = this;
    m_running = true;
    struct reset {
        scheduler& s;
        ~reset() {
            t_current = nullptr;
            s.m_running = false;
            s.m_stopping = false;
        }
    } guard{*this};
    if (m_clock == clock_mode::virtual_time)
        m_last_busy_real = steady_ns(); // the quiet spell counts from the start of the run
    for (;;) {
        run_once();
        if (m_stopping)
            break;
    }
}

void scheduler::call_exception_handler(const exception_context& ctx) noexcept {
    if (!m_exception_handler) {
        default_exception_handler(ctx);
        return;
    }
    try {
        m_exception_handler(*this, ctx);
    } catch (...) {
        std::fprintf(stderr, "corio: the exception handler threw: %s\n",
                     describe(std::current_exception()).c_str());
        default_exception_handler(ctx);
    }
}

void scheduler::default_exception_handler(const exception_context& ctx) noexcept {
    std::string line = "corio: " + ctx.message;
    if (!ctx.task_name.empty())
        line += " (task '" + ctx.task_name + "')";
    if (ctx.exception)
        line += ": " + describe(ctx.exception);
    std::fprintf(stderr, "%s\n", line.c_str());
}

void scheduler::warn(std::string_view text) const {
    if (m_warning_handler) {
        m_warning_handler(text);
        return;
    }
    std::fprintf(stderr, "corio: %.*s\n", static_cast<int>(text.size()), text.data());
}

std::string scheduler::task_name(const detail::task_header& t) {
    if (t.m_name)
        return t.m_name;
    return "Task-" + std::to_string(t.m_id);
}

void scheduler::start_task(detail::task_header& t, std::coroutine_handle<> h,
                           std::string_view name) {
    t.set_name(name);
    t.m_sched = this;
    t.m_frame = h;
    t.m_resume = h;
    t.m_run = &run_task;
    t.m_id = m_next_task_id++;
    t.m_refs = 1; // held until the coroutine finishes
    t.m_state = detail::task_state::created;
    t.m_prev_task = nullptr;
    t.m_next_task = m_tasks;
    if (m_tasks)
        m_tasks->m_prev_task = &t;
    m_tasks = &t;
    ++m_task_count;
    if (m_observer)
        m_observer->on_create(t);
    schedule(t);
}

void scheduler::finish_task(detail::task_header& t) noexcept {
    t.m_state = detail::task_state::done;
    // unhandled_exception classified the exception when it was thrown.
    t.m_cancelled = t.m_exception && t.m_cancelled;
    t.m_must_cancel = false;
    if (t.m_prev_task)
        t.m_prev_task->m_next_task = t.m_next_task;
    else
        m_tasks = t.m_next_task;
    if (t.m_next_task)
        t.m_next_task->m_prev_task = t.m_prev_task;
    t.m_prev_task = t.m_next_task = nullptr;
    --m_task_count;
    if (m_observer)
        m_observer->on_done(t);
    while (detail::done_link* l = t.m_done_head) {
        t.remove_done_link(*l);
        l->m_on_done(l, t);
    }
    t.release();
}

void scheduler::drop_callbacks() noexcept {
    // Unrun entries of the ready queue: callbacks are released; tasks stay registered and are
    // abandoned (or run) later.
    detail::runnable* r = m_ready_head;
    m_ready_head = m_ready_tail = nullptr;
    std::vector<detail::runnable*> tasks;
    while (r) {
        detail::runnable* next = r->m_next_ready;
        if (r->m_run == &run_callback)
            static_cast<detail::callback_base*>(r)->release();
        else
            tasks.push_back(r);
        r = next;
    }
    for (detail::runnable* t : tasks)
        schedule(*t);
    // Timers of callbacks hold a reference each; sleeps and timeouts belong to task frames,
    // which disarm them when they are destroyed.
    for (detail::timer_node* n : m_timers.nodes()) {
        if (n->m_fire == &fire_callback) {
            m_timers.cancel(*n);
            static_cast<detail::callback_base*>(n)->release();
        }
    }
}

void scheduler::abandon_tasks() noexcept {
    if (!m_tasks)
        return;
    // Tasks in the ready queue are about to lose their frames.
    m_ready_head = m_ready_tail = nullptr;
    std::vector<detail::task_header*> pending;
    for (detail::task_header* t = m_tasks; t; t = t->m_next_task) {
        t->add_ref(); // keep every header alive until all are detached
        pending.push_back(t);
    }
    for (detail::task_header* t : pending) {
        call_exception_handler(
            exception_context{"Task was destroyed but it is pending", nullptr, task_name(*t)});
        // Detach observers first so that frames can be destroyed in any order.
        while (detail::done_link* l = t->m_done_head)
            t->remove_done_link(*l);
        t->m_state = detail::task_state::done;
        t->m_cancelled = true;
        t->m_wait = nullptr;
        t->m_prev_task = t->m_next_task = nullptr;
    }
    m_tasks = nullptr;
    m_task_count = 0;
    for (detail::task_header* t : pending)
        t->release(); // the reference of the unfinished coroutine
    for (detail::task_header* t : pending)
        t->release(); // ours: the frame goes unless a handle still holds it
}

} // namespace corio

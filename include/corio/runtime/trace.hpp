#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/scheduler.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace corio {

/// What a task was doing during a trace_interval.
enum class trace_kind : std::uint8_t {
    /// On the CPU: from the moment the loop resumed the task until it suspended or finished.
    running,
    /// Parked at a suspension point (a timer, I/O, another task...) until something woke it.
    waiting,
    /// Woken (or just created) and queued for the CPU, behind the other ready work.
    ready,
};

/// One stretch of a task's life during which it was in one trace_kind state.
struct trace_interval {
    trace_kind kind = trace_kind::running;
    scheduler::time_point begin;
    scheduler::time_point end;
    /// For `waiting`: what the task waited on ("sleep", "task", "gather", "recv", ...). A string
    /// literal owned by the awaitable's code, never freed; "" for the other kinds.
    const char* what = "";
};

/// The record of one root task.
struct task_trace {
    /// The task's id (unique among the tasks of its loop).
    std::uint64_t id = 0;
    /// The task's name (scheduler::task_name), as of its last recorded event.
    std::string name;
    /// When the task was created, or when the recorder first saw it if it already existed.
    scheduler::time_point created;
    /// When the task finished; empty while it is alive (or if it was destroyed while pending).
    std::optional<scheduler::time_point> finished;
    /// The finished intervals, in time order, without gaps between them. The interval in
    /// progress is not listed until it ends; the exports include it, cut at the current time.
    std::vector<trace_interval> intervals;
};

/// Options of trace_recorder::render_timeline.
struct timeline_options {
    /// Number of time columns (at least 1).
    int width = 60;
    /// Print the legend line under the rows.
    bool legend = true;
    /// Start of the time window; empty: the creation of the first task recorded.
    std::optional<scheduler::time_point> begin{};
    /// End of the time window; empty: the last event recorded (or now, if a task is alive).
    std::optional<scheduler::time_point> end{};
    /// The rows to draw: only the tasks for which it returns true (e.g. chosen by name); empty:
    /// every task. The default window then spans the tasks drawn only.
    std::function<bool(const task_trace&)> filter{};
};

/// Records, per task of a loop, when it ran on the CPU, when it waited and on what, and when it
/// was queued for the CPU; then exports the record as Chrome/Perfetto trace JSON or draws it as
/// a text timeline (the seed's figure 1.10). Times come from the loop's clock, so a loop on the
/// virtual clock gives exact, reproducible traces.
///
/// Recording costs one hash lookup and one vector append per event, and no other allocation:
/// `what` strings are kept as the pointers the awaitables provide. Only root tasks (those made
/// by create_task, gather, run...) are seen; a task awaited inline is part of its awaiter.
///
/// The recorder is used on the loop's thread only, and must not outlive the loop. Tracing has
/// no cancellation semantics: nothing here suspends.
///
/// Example:
/// @code
/// corio::event_loop loop;
/// corio::trace_recorder trace(loop);
/// loop.run_until_complete(amain());
/// std::cout << trace.render_timeline();
/// trace.write_chrome_json("trace.json"); // open in https://ui.perfetto.dev
/// @endcode
class trace_recorder final : public task_observer {
  public:
    /// Installs the recorder as `loop`'s task observer (replacing any other one) and registers
    /// the tasks already alive, in the state they are in now. Errors: std::bad_alloc.
    explicit trace_recorder(scheduler& loop);
    /// Uninstalls the recorder if it is still `loop`'s observer.
    ~trace_recorder() override;
    trace_recorder(const trace_recorder&) = delete;
    trace_recorder& operator=(const trace_recorder&) = delete;

    /// The tasks recorded, in creation order.
    [[nodiscard]] const std::vector<task_trace>& tasks() const noexcept { return m_tasks; }
    /// Forgets everything recorded; the tasks alive now are registered again, starting now.
    /// Errors: std::bad_alloc.
    void clear();
    /// Number of events lost because memory ran out while recording (normally 0).
    [[nodiscard]] std::size_t dropped_events() const noexcept { return m_dropped; }

    /// The record as Chrome trace-event JSON (loads in ui.perfetto.dev and chrome://tracing):
    /// one thread per task (pid 1, tid = task id, named after the task), an "X" event named
    /// "cpu" for each running interval and one named after `what` (category "wait") for each
    /// waiting interval. Times are in microseconds from the earliest event. Errors:
    /// std::bad_alloc.
    [[nodiscard]] std::string to_chrome_json() const;
    /// Writes to_chrome_json() to the file `path`, replacing it. Errors: std::system_error,
    /// naming the path, if the file cannot be opened or written.
    void write_chrome_json(const std::string& path) const;

    /// Draws the record as text: a header with the time window in milliseconds, one row per task
    /// (its name, then one character per time column: '#' running, '-' waiting, '.' ready, ' '
    /// not alive) and a legend. A column in which the task ran at all shows '#', so that short
    /// CPU slices stay visible; otherwise '-' if it waited in it, else '.'.
    /// Errors: std::invalid_argument if `opts.width` < 1 or the window ends before it begins;
    /// std::bad_alloc.
    [[nodiscard]] std::string render_timeline(const timeline_options& opts = {}) const;

    // task_observer; called by the loop.
    void on_create(const detail::task_header& t) noexcept override;
    void on_run(const detail::task_header& t) noexcept override;
    void on_suspend(const detail::task_header& t, const char* what) noexcept override;
    void on_wake(const detail::task_header& t) noexcept override;
    void on_done(const detail::task_header& t) noexcept override;

  private:
    // The state a task is in since `since`, parallel to m_tasks (same index).
    struct open_state {
        trace_kind kind = trace_kind::ready;
        bool alive = true;
        scheduler::time_point since;
        const char* what = "";
        // The task's m_name when the name was last copied, to notice renames cheaply.
        const char* name_ptr = nullptr;
    };

    void register_live_tasks();
    std::size_t add_task(const detail::task_header& t, scheduler::time_point now, trace_kind kind,
                         const char* what);
    // The index of `t` in m_tasks, registering it if unknown (a task created before a clear()).
    std::size_t index_of(const detail::task_header& t, scheduler::time_point now,
                         trace_kind assumed, const char* what);
    void transition(const detail::task_header& t, trace_kind from, trace_kind to,
                    const char* what) noexcept;
    // The intervals of task i with the one in progress appended (cut at `now`).
    [[nodiscard]] std::vector<trace_interval> all_intervals(std::size_t i,
                                                            scheduler::time_point now) const;

    scheduler& m_loop;
    std::vector<task_trace> m_tasks;
    std::vector<open_state> m_open;
    std::unordered_map<std::uint64_t, std::size_t> m_index; // task id -> index in m_tasks
    std::size_t m_dropped = 0;
};

} // namespace corio

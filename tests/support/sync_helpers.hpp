#pragma once

// Helpers for the tests of the synchronisation primitives (tests/sync): a guarded run on the
// virtual clock, yielding to the other tasks, collecting how a child task ended, a coroutine
// that runs outside any task, and a probe of how many tasks are inside a critical section.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/sync/broken_barrier_error.hpp"
#include "corio/sync/queue_errors.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/loop_helpers.hpp"

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace corio::test {

/// Bounds `t` by an hour of virtual time: a lost wake-up then fails the test with timeout_error
/// instead of hanging it.
template <typename T>
task<T> within_an_hour(task<T> t) {
    auto bounded = corio::timeout(std::chrono::hours(1), std::move(t)); // named first: see
                                                                        // DESIGN.md on g++ 12
    co_return co_await std::move(bounded);
}

/// Runs `t` to completion on a new loop on the virtual clock, within an hour (within_an_hour),
/// and returns its result.
template <typename T>
T run_guarded(task<T> t) {
    return run_virtual(within_an_hour(std::move(t)));
}

/// Yields once: every task that is ready runs its next step first.
inline task<> yield() {
    co_await sleep(std::chrono::seconds(0));
}

/// Lets every ready task run until it parks (a few rounds of the ready queue).
inline task<> settle() {
    for (int i = 0; i < 4; ++i)
        co_await sleep(std::chrono::seconds(0));
}

/// Awaits `h` and says whether it ended cancelled (any other exception propagates).
template <typename T>
task<bool> ended_cancelled(task_handle<T>& h) {
    try {
        co_await h;
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

/// Awaits `h` and swallows its outcome (the children record their own).
template <typename T>
task<> finish(task_handle<T>& h) {
    try {
        co_await h;
    } catch (...) {
    }
}

/// The name of the error in `e`, for comparing outcomes: "cancelled", "timeout", "broken"
/// (broken_barrier_error), "shutdown", "empty" and "full" (the queue errors), else its what();
/// "" for null.
inline std::string error_name(const std::exception_ptr& e) {
    if (!e)
        return "";
    try {
        std::rethrow_exception(e);
    } catch (const cancelled_error&) {
        return "cancelled";
    } catch (const broken_barrier_error&) {
        return "broken";
    } catch (const queue_shutdown&) {
        return "shutdown";
    } catch (const queue_empty&) {
        return "empty";
    } catch (const queue_full&) {
        return "full";
    } catch (const timeout_error&) {
        return "timeout";
    } catch (const std::exception& ex) {
        return ex.what();
    }
}

/// A coroutine that runs eagerly outside any task, to check what awaiting there does. Its first
/// parameter receives the exception it ends with:
/// ```
/// outside_task wait_outside(std::exception_ptr& /*error*/, event& e) { co_await e.wait(); }
/// ```
struct outside_task {
    struct promise_type {
        std::exception_ptr* m_error;
        template <typename... Args>
        explicit promise_type(std::exception_ptr& error, Args&...) : m_error(&error) {}
        outside_task get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { *m_error = std::current_exception(); }
    };
};

/// Takes one unit of `p` (a lock or a semaphore) with acquire(), logs `name`, holds it for
/// `hold` (a yield for 0 s), then releases it.
template <typename Primitive>
task<> take_and_log(Primitive& p, char name, std::string* log,
                    scheduler::duration hold = std::chrono::seconds(0)) {
    co_await p.acquire();
    *log += name;
    co_await sleep(hold);
    p.release();
}

/// Takes one unit of `p` (a lock or a semaphore) and keeps it.
template <typename Primitive>
task<> acquire_only(Primitive& p) {
    co_await p.acquire();
}

/// How many tasks are inside a critical section now, at most, and in all.
struct occupancy {
    int inside = 0;
    int max_inside = 0;
    int entries = 0;
};

/// Counts a task inside its critical section for its lifetime, even when it leaves by an
/// exception.
class inside_scope {
  public:
    explicit inside_scope(occupancy& o) : m_o(o) {
        ++m_o.inside;
        m_o.max_inside = std::max(m_o.max_inside, m_o.inside);
        ++m_o.entries;
    }
    inside_scope(const inside_scope&) = delete;
    inside_scope& operator=(const inside_scope&) = delete;
    ~inside_scope() { --m_o.inside; }

  private:
    occupancy& m_o;
};

/// The numbers of a cancel_at_random run.
struct chaos_plan {
    int workers = 30;
    /// How many times each worker takes the primitive.
    int rounds_per_worker = 30;
    /// A worker holds it for rng() % max_hold_ms milliseconds each time.
    int max_hold_ms = 3;
    /// The seed of the canceller's generator (worker i is seeded with i).
    std::uint32_t seed = 42;
    /// The canceller sleeps rng() % max_pause_ms milliseconds between two rounds.
    int max_pause_ms = 4;
};

/// Takes `p` (`co_await p`, a guard) `rounds` times, each time holding it for a random time
/// inside an inside_scope of `o`.
template <typename Primitive>
task<> random_worker(Primitive& p, occupancy* o, std::uint32_t seed, int rounds, int max_hold_ms) {
    std::mt19937 rng(seed);
    for (int i = 0; i < rounds; ++i) {
        auto g = co_await p;
        inside_scope in(*o);
        co_await sleep(std::chrono::milliseconds(rng() % static_cast<unsigned>(max_hold_ms)));
    }
}

/// Runs plan.workers random_workers over `p` (a lock or a semaphore) and cancels them at random
/// moments: some while queued, some while holding it, and some just granted it: every fifth
/// round this task takes `p` and gives it back at once, which hands it to a waiter that has not
/// resumed yet when the cancellations right behind it arrive. Returns how many workers ended
/// cancelled, once all have ended.
template <typename Primitive>
task<int> cancel_at_random(Primitive& p, occupancy* o, chaos_plan plan) {
    std::mt19937 rng(plan.seed);
    std::vector<task_handle<>> ts;
    for (int i = 0; i < plan.workers; ++i)
        ts.push_back(create_task(random_worker(p, o, static_cast<std::uint32_t>(i),
                                               plan.rounds_per_worker, plan.max_hold_ms)));
    for (int round = 0; round < 40; ++round) {
        co_await sleep(std::chrono::milliseconds(rng() % static_cast<unsigned>(plan.max_pause_ms)));
        ts[rng() % ts.size()].cancel();
        if (round % 5 == 0) {
            auto g = co_await p;
            g.release();
            for (int k = 0; k < 4; ++k)
                ts[rng() % ts.size()].cancel();
        }
    }
    int cancelled = 0;
    for (auto& t : ts)
        cancelled += co_await ended_cancelled(t) ? 1 : 0;
    co_return cancelled;
}

} // namespace corio::test

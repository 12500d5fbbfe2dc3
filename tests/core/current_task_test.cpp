#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include "support/structured_helpers.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::task;
using corio::task_handle;
using corio::task_ref;
using corio::test::run_virtual;

task<bool> is_current(const task_ref* expected, std::uint64_t* seen_id) {
    co_await corio::sleep(0s); // `expected` is set by now
    *seen_id = corio::current_task().id();
    co_return corio::current_task() == *expected;
}

task<std::pair<bool, bool>> compare_with_the_handle() {
    task_ref ref;
    std::uint64_t seen = 0;
    task_handle<bool> h = corio::create_task(is_current(&ref, &seen));
    ref = h;
    const bool equal = co_await h;
    co_return std::make_pair(equal, seen == h.id());
}

TEST(CurrentTask, InsideATaskEqualsThatTasksHandle) {
    const auto [equal, same_id] = run_virtual(compare_with_the_handle());
    EXPECT_TRUE(equal);
    EXPECT_TRUE(same_id);
}

task<task_ref> current_of_inline_subtask() {
    co_return corio::current_task();
}

task<bool> inline_subtask_sees_the_root() {
    const task_ref outer = corio::current_task();
    const task_ref inner = co_await current_of_inline_subtask();
    co_return outer == inner&& static_cast<bool>(outer);
}

TEST(CurrentTask, AnInlineAwaitedTaskSeesTheRootTask) {
    EXPECT_TRUE(run_virtual(inline_subtask_sees_the_root()));
}

TEST(CurrentTask, IsEmptyOutsideATask) {
    EXPECT_FALSE(corio::current_task());

    corio::event_loop loop(corio::test::virtual_clock());
    bool in_callback_empty = false;
    loop.call_soon([&] {
        in_callback_empty = !corio::current_task();
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(in_callback_empty);
}

task<int> finish_at_once() {
    co_return 1;
}

struct all_tasks_report {
    std::size_t count = 0;
    bool has_main = false;
    bool has_live = false;
    bool has_finished = false;
};

task<all_tasks_report> list_all_tasks() {
    all_tasks_report out;
    task_handle<int> live = corio::create_task(corio::test::value_after(5s, 0));
    task_handle<int> finished = corio::create_task(finish_at_once());
    co_await corio::sleep(1s);
    const std::vector<task_ref> all = corio::all_tasks();
    auto contains = [&](const task_ref& t) {
        return std::find(all.begin(), all.end(), t) != all.end();
    };
    out.count = all.size();
    out.has_main = contains(corio::current_task());
    out.has_live = contains(live);
    out.has_finished = contains(finished);
    co_await live;
    co_return out;
}

TEST(AllTasks, ListsTheLiveTasksAndNotTheFinishedOnes) {
    const auto r = run_virtual(list_all_tasks());
    EXPECT_EQ(r.count, 2u);
    EXPECT_TRUE(r.has_main);
    EXPECT_TRUE(r.has_live);
    EXPECT_FALSE(r.has_finished);
}

TEST(AllTasks, ThrowsLogicErrorWithoutARunningLoop) {
    EXPECT_THROW((void)corio::all_tasks(), std::logic_error);
    corio::event_loop loop(corio::test::virtual_clock()); // built but not running
    EXPECT_THROW((void)corio::all_tasks(), std::logic_error);
}

} // namespace

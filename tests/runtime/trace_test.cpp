#include "corio/core/create_task.hpp"
#include "corio/core/task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/trace.hpp"
#include "corio/time/sleep.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::trace_kind;
using time_point = corio::scheduler::time_point;

corio::loop_options virtual_clock() {
    return corio::loop_options{.clock = corio::clock_mode::virtual_time};
}

// --- A minimal JSON validator: enough to tell that the export parses. -----------------------

class json_checker {
  public:
    explicit json_checker(std::string_view s) : m_s(s) {}

    // True if the whole text is one valid JSON value (RFC 8259 grammar).
    bool valid() {
        skip_ws();
        if (!value())
            return false;
        skip_ws();
        return m_i == m_s.size();
    }

  private:
    bool value() {
        if (m_i >= m_s.size() || ++m_depth > 64)
            return false;
        bool ok = false;
        switch (m_s[m_i]) {
        case '{':
            ok = object();
            break;
        case '[':
            ok = array();
            break;
        case '"':
            ok = string();
            break;
        case 't':
            ok = literal("true");
            break;
        case 'f':
            ok = literal("false");
            break;
        case 'n':
            ok = literal("null");
            break;
        default:
            ok = number();
        }
        --m_depth;
        return ok;
    }
    bool object() {
        ++m_i;
        skip_ws();
        if (peek('}'))
            return ++m_i, true;
        for (;;) {
            skip_ws();
            if (!string())
                return false;
            skip_ws();
            if (!peek(':'))
                return false;
            ++m_i;
            skip_ws();
            if (!value())
                return false;
            skip_ws();
            if (peek('}'))
                return ++m_i, true;
            if (!peek(','))
                return false;
            ++m_i;
        }
    }
    bool array() {
        ++m_i;
        skip_ws();
        if (peek(']'))
            return ++m_i, true;
        for (;;) {
            skip_ws();
            if (!value())
                return false;
            skip_ws();
            if (peek(']'))
                return ++m_i, true;
            if (!peek(','))
                return false;
            ++m_i;
        }
    }
    bool string() {
        if (!peek('"'))
            return false;
        for (++m_i; m_i < m_s.size(); ++m_i) {
            const auto c = static_cast<unsigned char>(m_s[m_i]);
            if (c == '"')
                return ++m_i, true;
            if (c < 0x20)
                return false;
            if (c == '\\') {
                if (++m_i >= m_s.size())
                    return false;
                const char e = m_s[m_i];
                if (e == 'u') {
                    for (int k = 0; k < 4; ++k)
                        if (++m_i >= m_s.size() ||
                            !std::isxdigit(static_cast<unsigned char>(m_s[m_i])))
                            return false;
                } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
                    return false;
                }
            }
        }
        return false;
    }
    bool number() {
        if (peek('-'))
            ++m_i;
        if (peek('0'))
            ++m_i; // no leading zeros
        else if (!digits())
            return false;
        if (peek('.')) {
            ++m_i;
            if (!digits())
                return false;
        }
        if (peek('e') || peek('E')) {
            ++m_i;
            if (peek('+') || peek('-'))
                ++m_i;
            if (!digits())
                return false;
        }
        return true;
    }
    bool digits() {
        const std::size_t start = m_i;
        while (m_i < m_s.size() && m_s[m_i] >= '0' && m_s[m_i] <= '9')
            ++m_i;
        return m_i > start;
    }
    bool literal(std::string_view word) {
        if (m_s.substr(m_i, word.size()) != word)
            return false;
        m_i += word.size();
        return true;
    }
    bool peek(char c) const { return m_i < m_s.size() && m_s[m_i] == c; }
    void skip_ws() {
        while (m_i < m_s.size() &&
               std::string_view(" \t\r\n").find(m_s[m_i]) != std::string_view::npos)
            ++m_i;
    }

    std::string_view m_s;
    std::size_t m_i = 0;
    int m_depth = 0;
};

bool valid_json(std::string_view s) {
    return json_checker(s).valid();
}

std::size_t count(std::string_view hay, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t p = hay.find(needle); p != std::string_view::npos;
         p = hay.find(needle, p + needle.size()))
        ++n;
    return n;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t nl = s.find('\n'); nl != std::string::npos; nl = s.find('\n', start)) {
        out.push_back(s.substr(start, nl - start));
        start = nl + 1;
    }
    if (start < s.size())
        out.push_back(s.substr(start));
    return out;
}

// The part of a timeline row between the bars.
std::string bar_of(const std::string& row) {
    const auto open = row.find('|');
    const auto close = row.rfind('|');
    return row.substr(open + 1, close - open - 1);
}

// --- The schedule used by most tests ---------------------------------------------------------
//
// main (Task-1) starts "short" (sleeps 100 ms) and "long" (sleeps 300 ms), then awaits both.
// On the virtual clock every step takes no time, so the trace is exact:
//   short: run at 0, sleep 0..100, run at 100, done
//   long:  run at 0, sleep 0..300, run at 300, done
//   main:  run at 0, wait "task" 0..100, run at 100, wait "task" 100..300, run at 300, done

corio::task<> sleeper(std::chrono::milliseconds d) {
    co_await corio::sleep(d);
}

corio::task<> short_and_long() {
    auto a = corio::create_task(sleeper(100ms), "short");
    auto b = corio::create_task(sleeper(300ms), "long");
    co_await a;
    co_await b;
}

struct recorded {
    time_point t0;
    std::vector<corio::task_trace> tasks;
    std::string json;
    std::string timeline;
};

recorded record_short_and_long(int width = 30) {
    corio::event_loop loop(virtual_clock());
    corio::trace_recorder rec(loop);
    recorded r;
    r.t0 = loop.time();
    loop.run_until_complete(short_and_long());
    r.tasks = rec.tasks();
    r.json = rec.to_chrome_json();
    r.timeline = rec.render_timeline({.width = width});
    return r;
}

void expect_interval(const corio::trace_interval& iv, trace_kind kind, time_point begin,
                     time_point end, std::string_view what = "") {
    EXPECT_EQ(iv.kind, kind);
    EXPECT_EQ(iv.begin, begin);
    EXPECT_EQ(iv.end, end);
    EXPECT_EQ(std::string_view(iv.what), what);
}

TEST(TraceRecorder, RecordsEachTaskInCreationOrderWithItsName) {
    const recorded r = record_short_and_long();
    ASSERT_EQ(r.tasks.size(), 3u);
    EXPECT_EQ(r.tasks[0].name, "Task-1");
    EXPECT_EQ(r.tasks[1].name, "short");
    EXPECT_EQ(r.tasks[2].name, "long");
    EXPECT_LT(r.tasks[0].id, r.tasks[1].id);
    EXPECT_LT(r.tasks[1].id, r.tasks[2].id);
    for (const auto& t : r.tasks)
        EXPECT_EQ(t.created, r.t0);
}

TEST(TraceRecorder, RecordsRunningWaitingAndReadyIntervalsAtExactVirtualTimes) {
    const recorded r = record_short_and_long();
    ASSERT_EQ(r.tasks.size(), 3u);
    const time_point t0 = r.t0, t100 = t0 + 100ms, t300 = t0 + 300ms;

    const auto& s = r.tasks[1].intervals;
    ASSERT_EQ(s.size(), 5u);
    expect_interval(s[0], trace_kind::ready, t0, t0);
    expect_interval(s[1], trace_kind::running, t0, t0);
    expect_interval(s[2], trace_kind::waiting, t0, t100, "sleep");
    expect_interval(s[3], trace_kind::ready, t100, t100);
    expect_interval(s[4], trace_kind::running, t100, t100);
    EXPECT_EQ(r.tasks[1].finished, t100);

    const auto& l = r.tasks[2].intervals;
    ASSERT_EQ(l.size(), 5u);
    expect_interval(l[2], trace_kind::waiting, t0, t300, "sleep");
    expect_interval(l[4], trace_kind::running, t300, t300);
    EXPECT_EQ(r.tasks[2].finished, t300);
}

TEST(TraceRecorder, LabelsTheWaitForAnotherTaskAsTask) {
    const recorded r = record_short_and_long();
    const auto& m = r.tasks[0].intervals;
    const time_point t0 = r.t0, t100 = t0 + 100ms, t300 = t0 + 300ms;
    ASSERT_EQ(m.size(), 8u);
    expect_interval(m[2], trace_kind::waiting, t0, t100, "task");
    expect_interval(m[5], trace_kind::waiting, t100, t300, "task");
    expect_interval(m[7], trace_kind::running, t300, t300);
    EXPECT_EQ(r.tasks[0].finished, t300);
}

TEST(TraceRecorder, ChromeJsonParsesAndHoldsOneTrackPerTaskAndCompleteEvents) {
    const recorded r = record_short_and_long();
    EXPECT_TRUE(valid_json(r.json)) << r.json;
    EXPECT_NE(r.json.find("\"traceEvents\""), std::string::npos);
    EXPECT_NE(r.json.find("\"displayTimeUnit\":\"ms\""), std::string::npos);
    EXPECT_EQ(count(r.json, "\"thread_name\""), 3u);
    EXPECT_NE(r.json.find(R"("args":{"name":"short"})"), std::string::npos);
    EXPECT_NE(r.json.find(R"("args":{"name":"long"})"), std::string::npos);
    // 3 + 2 + 2 running slices (main, short, long) and 2 + 1 + 1 waits.
    EXPECT_EQ(count(r.json, "\"ph\":\"X\""), 11u);
    EXPECT_EQ(count(r.json, R"("name":"cpu","cat":"cpu")"), 7u);
    // Times are microseconds from the first event.
    const std::string long_sleep = R"({"name":"sleep","cat":"wait","pid":1,"tid":)" +
                                   std::to_string(r.tasks[2].id) +
                                   R"(,"ph":"X","ts":0.000,"dur":300000.000})";
    EXPECT_NE(r.json.find(long_sleep), std::string::npos) << r.json;
    const std::string main_second_wait = R"({"name":"task","cat":"wait","pid":1,"tid":)" +
                                         std::to_string(r.tasks[0].id) +
                                         R"(,"ph":"X","ts":100000.000,"dur":200000.000})";
    EXPECT_NE(r.json.find(main_second_wait), std::string::npos) << r.json;
}

corio::task<> named_sleeper() {
    co_await corio::sleep(1ms);
}

TEST(TraceRecorder, EscapesQuotesBackslashesAndControlCharactersInJsonNames) {
    corio::event_loop loop(virtual_clock());
    corio::trace_recorder rec(loop);
    auto h = loop.create_task(named_sleeper(), "say \"hi\" \\ now\n\x01");
    auto bad = loop.create_task(named_sleeper(), "bad \xff utf8");
    loop.run_until_complete(sleeper(5ms));
    const std::string json = rec.to_chrome_json();
    EXPECT_TRUE(valid_json(json)) << json;
    EXPECT_NE(json.find(R"("say \"hi\" \\ now\n\u0001")"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("bad \ufffd utf8")"), std::string::npos) << json;
}

TEST(TraceRecorder, TimelineHasOneRowPerTaskWithRunningAndWaitingInTheRightColumns) {
    // 30 columns over 300 ms: 10 ms per column.
    const recorded r = record_short_and_long(30);
    const auto lines = lines_of(r.timeline);
    ASSERT_EQ(lines.size(), 5u) << r.timeline; // header, 3 rows, legend
    EXPECT_NE(lines[0].find("0.0 ms"), std::string::npos) << r.timeline;
    EXPECT_NE(lines[0].find("300.0 ms"), std::string::npos) << r.timeline;
    EXPECT_EQ(lines[1].rfind("Task-1", 0), 0u);
    EXPECT_EQ(lines[2].rfind("short", 0), 0u);
    EXPECT_EQ(lines[3].rfind("long", 0), 0u);
    // The names sit in one fixed-width column, so the bars line up.
    EXPECT_EQ(lines[1].find('|'), lines[2].find('|'));
    EXPECT_EQ(lines[1].find('|'), lines[3].find('|'));
    EXPECT_EQ(bar_of(lines[1]), "#---------#------------------#");
    EXPECT_EQ(bar_of(lines[2]), "#---------#                   ");
    EXPECT_EQ(bar_of(lines[3]), "#----------------------------#");
    EXPECT_NE(lines[4].find("legend"), std::string::npos);
}

TEST(TraceRecorder, TimelineHonoursTheWindowAndTheLegendOption) {
    corio::event_loop loop(virtual_clock());
    corio::trace_recorder rec(loop);
    const time_point t0 = loop.time();
    loop.run_until_complete(short_and_long());
    // 10 columns over 100..300 ms: "short" is gone after its last slice at 100 ms.
    const std::string tl =
        rec.render_timeline({.width = 10, .legend = false, .begin = t0 + 100ms, .end = t0 + 300ms});
    const auto lines = lines_of(tl);
    ASSERT_EQ(lines.size(), 4u) << tl;
    EXPECT_NE(lines[0].find("100.0 ms"), std::string::npos) << tl;
    EXPECT_EQ(bar_of(lines[1]), "#--------#");
    EXPECT_EQ(bar_of(lines[2]), "#         ");
    EXPECT_EQ(bar_of(lines[3]), "---------#");
    EXPECT_THROW((void)rec.render_timeline({.width = 0}), std::invalid_argument);
    EXPECT_THROW((void)rec.render_timeline({.begin = t0 + 1s, .end = t0}), std::invalid_argument);
}

TEST(TraceRecorder, TimelineFilterDrawsOnlyTheChosenTasksOverTheirOwnWindow) {
    corio::event_loop loop(virtual_clock());
    corio::trace_recorder rec(loop);
    loop.run_until_complete(short_and_long());
    corio::timeline_options opts{.width = 20};
    opts.filter = [](const corio::task_trace& t) { return t.name == "short"; };
    const std::string tl = rec.render_timeline(opts);
    const auto lines = lines_of(tl);
    ASSERT_EQ(lines.size(), 3u) << tl;                             // header, the one row, legend
    EXPECT_NE(lines[0].find("100.0 ms"), std::string::npos) << tl; // short's life, not long's
    EXPECT_EQ(lines[1].rfind("short", 0), 0u) << tl;
    EXPECT_EQ(bar_of(lines[1]), "#------------------#");
    EXPECT_EQ(rec.tasks().size(), 3u); // the record itself keeps every task
}

TEST(TraceRecorder, ShowsReadyButQueuedTimeAsDots) {
    corio::event_loop loop; // the real clock: time passes while the task sits in the queue
    corio::trace_recorder rec(loop);
    auto h = loop.create_task(sleeper(1ms), "queued");
    std::this_thread::sleep_for(5ms);
    // Until the loop runs, the task is ready and queued: the interval in progress is drawn up to
    // now, and tasks() lists it only once it has ended.
    const std::string tl = rec.render_timeline({.width = 4});
    EXPECT_EQ(bar_of(lines_of(tl)[1]), "....") << tl;
    EXPECT_TRUE(rec.tasks()[0].intervals.empty());
    loop.run_until_complete(sleeper(2ms));
    EXPECT_EQ(rec.tasks()[0].intervals.front().kind, trace_kind::ready);
    EXPECT_GE(rec.tasks()[0].intervals.front().end - rec.tasks()[0].intervals.front().begin, 5ms);
}

corio::task<std::size_t> record_from_inside() {
    // The pattern of the walkthrough: a recorder on the loop that runs us.
    corio::trace_recorder rec(*corio::scheduler::current());
    co_await corio::sleep(10ms);
    const auto& tasks = rec.tasks();
    // This task was already running when the recorder was installed.
    EXPECT_EQ(tasks.size(), 1u);
    if (tasks.empty())
        co_return 0;
    // Running since the installation, the sleep, then queued until resumed (running now).
    EXPECT_EQ(tasks[0].intervals.size(), 3u);
    if (tasks[0].intervals.size() == 3) {
        EXPECT_EQ(tasks[0].intervals[0].kind, trace_kind::running);
        EXPECT_EQ(std::string_view(tasks[0].intervals[1].what), "sleep");
        EXPECT_EQ(tasks[0].intervals[2].kind, trace_kind::ready);
    }
    co_return tasks.size();
}

TEST(TraceRecorder, RegistersTasksAlreadyAliveWhenInstalled) {
    corio::event_loop loop(virtual_clock());
    EXPECT_EQ(loop.run_until_complete(record_from_inside()), 1u);
    EXPECT_EQ(loop.observer(), nullptr);
}

TEST(TraceRecorder, UninstallsItselfOnDestructionButLeavesAnotherObserverInPlace) {
    corio::event_loop loop(virtual_clock());
    {
        corio::trace_recorder rec(loop);
        EXPECT_EQ(loop.observer(), &rec);
    }
    EXPECT_EQ(loop.observer(), nullptr);

    corio::trace_recorder outer(loop);
    {
        corio::trace_recorder inner(loop); // replaces outer
        loop.set_observer(&outer);         // and is replaced in turn
    }
    EXPECT_EQ(loop.observer(), &outer);
    // The loop still runs fine after the changes.
    loop.run_until_complete(sleeper(1ms));
    EXPECT_EQ(outer.tasks().size(), 1u);
}

TEST(TraceRecorder, ClearForgetsTheRecord) {
    corio::event_loop loop(virtual_clock());
    corio::trace_recorder rec(loop);
    loop.run_until_complete(short_and_long());
    EXPECT_EQ(rec.tasks().size(), 3u);
    rec.clear();
    EXPECT_TRUE(rec.tasks().empty());
    loop.run_until_complete(sleeper(1ms));
    EXPECT_EQ(rec.tasks().size(), 1u);
}

TEST(TraceRecorder, WriteChromeJsonWritesTheFileAndNamesThePathOnFailure) {
    corio::event_loop loop(virtual_clock());
    corio::trace_recorder rec(loop);
    loop.run_until_complete(sleeper(1ms));

    const std::string path = ::testing::TempDir() + "corio_trace_test.json";
    rec.write_chrome_json(path);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
        text.append(buf, n);
    std::fclose(f);
    std::remove(path.c_str());
    EXPECT_EQ(text, rec.to_chrome_json());

    const std::string bad = "/nonexistent-corio-dir/trace.json";
    try {
        rec.write_chrome_json(bad);
        ADD_FAILURE() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
    }
}

} // namespace

// The seed's §1.3 pair of examples, blocking then non-blocking, timed and traced.
//
//   ./run.sh demo                 the seed's 2 s sleeps (about 6 s in all)
//   ./run.sh demo --scale 0.1     the same, ten times faster
//
// Part 2 is recorded with corio::trace_recorder: its timeline is printed like the seed's
// figure 1.10 and saved as Chrome/Perfetto trace JSON.

#include "corio/corio.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace {

using namespace std::chrono_literals;
using wall_clock = std::chrono::steady_clock;

// How long each task sleeps: the seed's 2 s times --scale.
std::chrono::nanoseconds g_nap = 2s;

void say(const char* text) {
    std::printf("%s\n", text);
    std::fflush(stdout); // show each line as it happens, even through a pipe
}

double seconds_since(wall_clock::time_point start) {
    return std::chrono::duration<double>(wall_clock::now() - start).count();
}

// --- Part 1: blocking. Python's time.sleep is C++'s std::this_thread::sleep_for: the whole
// thread stops, and nothing else can run on it meanwhile.

void blocking_task1() {
    say("Task 1 started");
    std::this_thread::sleep_for(g_nap);
    say("Task 1 completed");
}

void blocking_task2() {
    say("Task 2 started");
    std::this_thread::sleep_for(g_nap);
    say("Task 2 completed");
}

// --- Part 2: non-blocking. `co_await corio::sleep` suspends only this task; the event loop
// runs the other one while the timer is pending.

corio::task<> task1() {
    say("Task 1 started");
    co_await corio::sleep(g_nap);
    say("Task 1 completed");
}

corio::task<> task2() {
    say("Task 2 started");
    co_await corio::sleep(g_nap);
    say("Task 2 completed");
}

struct traced_run {
    std::string timeline;
    std::string trace_error; // empty once the trace file is written
};

corio::task<traced_run> amain(std::string trace_path) {
    // Record every task of the loop that corio::run made for us, from here on.
    corio::trace_recorder trace(*corio::scheduler::current());
    // gather(task1(), task2()) works too; create_task names the tasks for the trace's rows.
    auto t1 = corio::create_task(task1(), "task1");
    auto t2 = corio::create_task(task2(), "task2");
    co_await corio::gather(t1, t2);

    traced_run out{trace.render_timeline(), {}};
    try {
        trace.write_chrome_json(trace_path);
    } catch (const std::system_error& e) {
        out.trace_error = e.what();
    }
    co_return out;
}

// --- Command line.

struct options {
    double scale = 1.0;
    std::string trace_out = "walkthrough-trace.json";
};

void usage(std::FILE* to) {
    std::fprintf(to, "usage: walkthrough [--scale X] [--trace-out PATH] [--help]\n"
                     "  --scale X         multiply the seed's 2 s sleeps by X (default 1.0; "
                     "try 0.1)\n"
                     "  --trace-out PATH  where to write the Perfetto trace of part 2 (default "
                     "walkthrough-trace.json)\n");
}

[[noreturn]] void bad_usage(const std::string& message) {
    std::fprintf(stderr, "walkthrough: error: %s\n", message.c_str());
    usage(stderr);
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string value;
        bool has_value = false;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            has_value = true;
            arg = arg.substr(0, eq);
        }
        auto take_value = [&] {
            if (has_value)
                return value;
            if (i + 1 >= argc)
                bad_usage(std::string(arg) + " needs a value");
            return std::string(argv[++i]);
        };
        if (arg == "--help" || arg == "-h") {
            usage(stdout);
            std::exit(0);
        } else if (arg == "--scale") {
            const std::string v = take_value();
            char* end = nullptr;
            o.scale = std::strtod(v.c_str(), &end);
            if (v.empty() || *end != '\0' || !std::isfinite(o.scale) || o.scale <= 0 ||
                o.scale > 100)
                bad_usage("--scale wants a number in (0, 100], got '" + v + "'");
        } else if (arg == "--trace-out") {
            o.trace_out = take_value();
            if (o.trace_out.empty())
                bad_usage("--trace-out wants a file path");
        } else {
            bad_usage("unknown option '" + std::string(argv[i]) + "'");
        }
    }
    return o;
}

} // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);
    g_nap = std::chrono::duration_cast<std::chrono::nanoseconds>(2s * opt.scale);
    const double nap_s = std::chrono::duration<double>(g_nap).count();
    std::printf(
        "corio walkthrough: blocking vs non-blocking (seed §1.3), each task sleeps %.2f s\n",
        nap_s);

    std::printf(
        "\n== Part 1, blocking: task1(); task2(); each calls std::this_thread::sleep_for\n");
    auto start = wall_clock::now();
    blocking_task1();
    blocking_task2();
    const double blocking_s = seconds_since(start);
    std::printf("   took %.2f s: the thread was stuck in sleep_for, so task 2 waited for task 1.\n",
                blocking_s);

    std::printf("\n== Part 2, non-blocking: corio::run(main), where main does\n"
                "   co_await corio::gather(task1(), task2()); each task calls co_await "
                "corio::sleep\n");
    std::fflush(stdout);
    start = wall_clock::now();
    traced_run traced;
    try {
        traced = corio::run(amain(opt.trace_out));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "walkthrough: part 2 failed: %s\n", e.what());
        return 1;
    }
    const double non_blocking_s = seconds_since(start);
    std::printf("   took %.2f s: while task 1 waited on its timer, the event loop ran task 2.\n",
                non_blocking_s);

    std::printf("\nTimeline of part 2, like the seed's figure 1.10 (one thread, one task on the "
                "CPU at a time):\n%s",
                traced.timeline.c_str());

    std::printf("\nBlocking %.2f s, non-blocking %.2f s: %.1fx faster on the same single thread.\n"
                "No parallelism, only concurrency: a task that waits hands the CPU back to the\n"
                "event loop instead of holding the thread, so the two waits overlap.\n",
                blocking_s, non_blocking_s, non_blocking_s > 0 ? blocking_s / non_blocking_s : 0.0);

    if (!traced.trace_error.empty()) {
        std::fprintf(stderr, "walkthrough: %s\n", traced.trace_error.c_str());
        return 1;
    }
    std::error_code ec;
    const auto shown = std::filesystem::absolute(opt.trace_out, ec);
    std::printf("\nTrace of part 2 written to %s\nOpen it in https://ui.perfetto.dev (or "
                "chrome://tracing) to explore it.\n",
                ec ? opt.trace_out.c_str() : shown.c_str());
    return 0;
}

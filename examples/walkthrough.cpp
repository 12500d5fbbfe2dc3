// The seed's examples, run for real: §1.3's pair, blocking then non-blocking, timed and traced;
// and §2.2's three make_request tasks, each doing CPU work, an HTTP GET and more CPU work, whose
// waits overlap on one thread (the seed's figure 1.10).
//
//   ./run.sh demo                 parts 1 and 2 with the seed's 2 s sleeps, then part 3 (7 s in
//   all)
//   ./run.sh demo --scale 0.1     the same, ten times faster
//   ./run.sh demo --part 3        only the three requests (against an embedded HTTP server)
//   ./run.sh demo --part 3 --url http://example.com/   the three requests to a real server
//
// Parts 2 and 3 are recorded with corio::trace_recorder: their timelines are printed like the
// seed's figure 1.10 and saved as Chrome/Perfetto trace JSON.

#include "corio/corio.hpp"
#include "corio/fs/files.hpp"
#include "corio/http/client.hpp"
#include "corio/http/server.hpp"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

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

// --- Part 3: the seed's §2.2. Three make_request tasks, each: CPU-bound setup, an I/O-bound web
// request, CPU-bound post-processing, then the response headers written to headers.txt (§1.4).

// Real CPU work that the optimiser cannot drop: its results end up here.
volatile std::uint64_t g_sink = 0;

// CPU-bound setup: counts the primes below `n` with a sieve of Eratosthenes.
std::uint64_t count_primes(std::size_t n) {
    std::vector<bool> composite(n, false);
    std::uint64_t count = 0;
    for (std::size_t i = 2; i < n; ++i) {
        if (composite[i])
            continue;
        ++count;
        for (std::size_t j = i * i; j < n; j += i)
            composite[j] = true;
    }
    return count;
}

// CPU-bound post-processing: `rounds` passes of FNV-1a over `text`, each seeded by the last.
std::uint64_t hash_rounds(std::string_view text, std::uint64_t rounds) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (std::uint64_t r = 0; r < rounds; ++r)
        for (const char c : text) {
            h ^= static_cast<unsigned char>(c);
            h *= 0x100000001b3ULL;
        }
    return h;
}

template <typename F>
double time_ms(F&& f) {
    const auto start = wall_clock::now();
    f();
    return std::chrono::duration<double, std::milli>(wall_clock::now() - start).count();
}

// How much work takes `target_ms` on this machine: a small run, timed, scaled up linearly, then
// one run of the estimate, timed, to correct it (a big sieve costs more per number than a small
// one, once it no longer fits in the cache).
std::size_t calibrate_sieve(double target_ms) {
    std::size_t n = std::size_t{1} << 16;
    double ms = 0;
    for (;;) {
        ms = time_ms([n] { g_sink = g_sink + count_primes(n); });
        if (ms > 4.0 || n >= (std::size_t{1} << 28))
            break;
        n *= 4;
    }
    const auto limit = [](double x) {
        return std::clamp<double>(x, 1000, static_cast<double>(std::size_t{1} << 30));
    };
    n = static_cast<std::size_t>(limit(static_cast<double>(n) * (target_ms / ms)));
    ms = time_ms([n] { g_sink = g_sink + count_primes(n); });
    return static_cast<std::size_t>(
        limit(static_cast<double>(n) * (target_ms / std::max(ms, 0.01))));
}

// The post-processing is sized in bytes hashed, so that it does not depend on the response's
// size; measured on a text of the size of a response's headers, with the same correction.
std::uint64_t calibrate_hash_bytes(double target_ms) {
    const std::string sample(256, 'h');
    std::uint64_t rounds = 16;
    double ms = 0;
    for (;;) {
        ms = time_ms([&] { g_sink = g_sink + hash_rounds(sample, rounds); });
        if (ms > 4.0 || rounds >= (std::uint64_t{1} << 34))
            break;
        rounds *= 4;
    }
    rounds = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(rounds * (target_ms / ms)));
    ms = time_ms([&] { g_sink = g_sink + hash_rounds(sample, rounds); });
    return std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(rounds * sample.size() * (target_ms / std::max(ms, 0.01))));
}

// The seed's formatting (§1.4): f'{key}: {header}' for each header, joined by '\n'.
std::string format_headers(const corio::http::headers& headers) {
    std::string out;
    for (const auto& [key, value] : headers) {
        if (!out.empty())
            out += '\n';
        out += key;
        out += ": ";
        out += value;
    }
    return out;
}

// The embedded HTTP server: corio's own, answering every GET after `delay` (a corio::sleep in the
// handler, so the server stays non-blocking too). It runs on a thread of its own with its own
// event loop, like a server on another machine: its tasks are not in the demo's timeline and do
// not take the demo loop's CPU. Swap this class for --url to talk to real servers.
class embedded_server {
  public:
    explicit embedded_server(std::chrono::nanoseconds delay) {
        std::future<std::uint16_t> started = m_ready.get_future();
        m_thread = std::thread([this, delay] { run(delay); });
        try {
            m_port = started.get();
        } catch (...) {
            m_thread.join();
            throw;
        }
    }
    embedded_server(const embedded_server&) = delete;
    embedded_server& operator=(const embedded_server&) = delete;
    ~embedded_server() {
        // m_serving is touched on the server's thread only: the cancel runs there (or, if the
        // loop is closing, is dropped unrun).
        try {
            m_loop.call_soon_threadsafe([this] {
                if (m_serving)
                    m_serving->cancel();
            });
        } catch (const std::exception&) {
            // The loop has closed already (the server failed): nothing to stop.
        }
        m_thread.join();
    }

    [[nodiscard]] std::uint16_t port() const noexcept { return m_port; }

  private:
    static corio::task<> serve(std::chrono::nanoseconds delay, std::promise<std::uint16_t>& ready) {
        corio::http::router routes;
        routes.get("/warmup", [](corio::http::request&) -> corio::task<corio::http::response> {
            co_return corio::http::response::text(200, "warm\n");
        });
        routes.get("/*", [delay](corio::http::request& req) -> corio::task<corio::http::response> {
            co_await corio::sleep(delay);
            std::string body = "corio's embedded server answers ";
            body += req.target();
            body += '\n';
            co_return corio::http::response::text(200, std::move(body));
        });
        // Named before the co_await: the call's temporaries (its strings and default options) must
        // not live inside the co_await expression (g++ 12, DESIGN.md).
        auto start = corio::http::start_server(std::move(routes), "127.0.0.1", 0);
        corio::http::server srv = co_await std::move(start);
        ready.set_value(srv.port());
        co_await srv.serve_forever();
    }

    static corio::task<> await_done(corio::task_handle<void>& h) { co_await h; }

    void run(std::chrono::nanoseconds delay) {
        try {
            corio::event_loop loop;
            m_loop = loop.handle(); // published to the constructor by m_ready
            // Declared after the loop, so it goes first; m_serving points to it while it lives.
            corio::task_handle<void> serving =
                loop.create_task(serve(delay, m_ready), "embedded-server");
            m_serving = &serving;
            try {
                loop.run_until_complete(await_done(serving));
            } catch (...) {
                m_serving = nullptr;
                throw;
            }
            m_serving = nullptr;
        } catch (const corio::cancelled_error&) {
            // The destructor stopped it.
        } catch (...) {
            try {
                m_ready.set_exception(std::current_exception());
            } catch (const std::future_error&) {
                // It failed after it had started: the requests report it.
            }
        }
    }

    // Set by the server's thread, once: the port, or why it could not start.
    std::promise<std::uint16_t> m_ready;
    std::thread m_thread;
    corio::loop_handle m_loop;
    // The serving task's handle while it runs; the server's thread only.
    corio::task_handle<void>* m_serving = nullptr;
    std::uint16_t m_port = 0;
};

struct request_settings {
    std::vector<std::string> urls; // used in turn; from --url, or the embedded server's
    std::size_t sieve_n = 0;       // CPU-bound setup
    std::uint64_t hash_bytes = 0;  // CPU-bound post-processing
    bool warm_up = false;          // open the pool's connections before the trace
    std::filesystem::path headers_path;
    std::chrono::seconds timeout{30};
};

struct request_report {
    int id = 0;
    std::string url;
    int status = 0;
    std::string reason;
    std::size_t body_bytes = 0;
    std::string final_url;
    std::string error;
    double setup_ms = 0, request_ms = 0, post_ms = 0, write_ms = 0;
    // The loop's clock around the GET, to find its waits in the trace.
    corio::scheduler::time_point request_begin{}, request_end{};
};

// The seed's make_request(): cpu_bound_setup(); io_bound_web_request(); cpu_bound_postprocess();
// then, as in §1.4, the response headers are written to a file (appended, one block per task).
corio::task<> make_request(int id, corio::http::client& client, const request_settings& cfg,
                           request_report& out) {
    corio::scheduler& loop = *corio::scheduler::current();
    out.id = id;
    out.url = cfg.urls[static_cast<std::size_t>(id - 1) % cfg.urls.size()];
    try {
        // CPU-bound setup: nothing else runs on this thread meanwhile.
        auto t = wall_clock::now();
        const std::uint64_t primes = count_primes(cfg.sieve_n);
        g_sink = g_sink + primes;
        out.setup_ms = seconds_since(t) * 1e3;

        // I/O-bound web request: the task waits, the loop runs the other tasks.
        t = wall_clock::now();
        out.request_begin = loop.time();
        corio::http::request_options options;
        options.timeout = cfg.timeout;
        auto get = client.get(out.url, std::move(options));
        corio::http::client_response r = co_await std::move(get);
        out.request_end = loop.time();
        out.request_ms = seconds_since(t) * 1e3;
        out.status = r.status();
        out.reason = r.reason();
        out.body_bytes = r.body().size();
        out.final_url = r.url().str();

        // CPU-bound post-processing: the seed's formatting, then a digest of headers and body.
        t = wall_clock::now();
        const std::string formatted = format_headers(r.headers());
        const std::string text = formatted + r.body();
        const std::uint64_t digest = hash_rounds(
            text,
            std::max<std::uint64_t>(1, cfg.hash_bytes / std::max<std::size_t>(1, text.size())));
        char line[160];
        std::snprintf(line, sizeof line, "== make_request(%d): GET %s -> %d %s (digest %016llx)\n",
                      id, out.final_url.c_str(), out.status, out.reason.c_str(),
                      static_cast<unsigned long long>(digest));
        std::string block = line;
        block += formatted;
        block += "\n\n";
        out.post_ms = seconds_since(t) * 1e3;

        // I/O-bound again: the file write runs on the loop's thread pool.
        t = wall_clock::now();
        auto append = corio::fs::append_file(cfg.headers_path, block);
        co_await std::move(append);
        out.write_ms = seconds_since(t) * 1e3;
    } catch (const corio::cancelled_error&) {
        throw;
    } catch (const std::exception& e) {
        out.error = e.what();
        if (out.request_end == corio::scheduler::time_point{})
            out.request_end = loop.time();
    }
}

struct requests_run {
    std::vector<request_report> reports;
    std::string timeline;
    std::vector<corio::task_trace> traces;          // the three make_request tasks
    std::vector<corio::trace_interval> all_running; // every task's CPU slices
    double wall_ms = 0;
    std::string trace_error;
};

bool is_make_request(const corio::task_trace& t) {
    return t.name.starts_with("make_request(");
}

corio::task<requests_run> requests_main(request_settings cfg, std::string trace_path) {
    requests_run out;
    out.reports.resize(3);
    corio::http::client client;
    // headers.txt starts empty; each task appends its block.
    auto truncate = corio::fs::write_file(cfg.headers_path, "");
    co_await std::move(truncate);

    if (cfg.warm_up) {
        // Three GETs at once open three connections, which then wait in the pool. Without them
        // each GET first connects, and corio::open_tcp_connection connects in a task of its own,
        // which would wait behind the other make_request tasks' CPU work.
        const std::string& first = cfg.urls.front();
        const std::string warm = first.substr(0, first.find('/', 7)) + "/warmup";
        auto w1 = client.get(warm);
        auto w2 = client.get(warm);
        auto w3 = client.get(warm);
        auto warming = corio::gather(std::move(w1), std::move(w2), std::move(w3));
        co_await std::move(warming);
    }

    corio::trace_recorder trace(*corio::scheduler::current());
    const auto start = wall_clock::now();
    std::vector<corio::task_handle<void>> tasks;
    for (int i = 1; i <= 3; ++i)
        tasks.push_back(corio::create_task(
            make_request(i, client, cfg, out.reports[static_cast<std::size_t>(i - 1)]),
            "make_request(" + std::to_string(i) + ")"));
    for (auto& t : tasks)
        co_await t;
    out.wall_ms = seconds_since(start) * 1e3;

    corio::timeline_options opts;
    opts.width = 72;
    opts.filter = is_make_request;
    out.timeline = trace.render_timeline(opts);
    for (const corio::task_trace& t : trace.tasks()) {
        if (is_make_request(t))
            out.traces.push_back(t);
        for (const corio::trace_interval& iv : t.intervals)
            if (iv.kind == corio::trace_kind::running)
                out.all_running.push_back(iv);
    }
    try {
        trace.write_chrome_json(trace_path);
    } catch (const std::system_error& e) {
        out.trace_error = e.what();
    }
    client.close();
    co_return out;
}

// The span of a request's waits in the trace: from the first wait that began after the GET
// started to the end of the last one that ended by the time the response was in.
struct wait_span {
    corio::scheduler::time_point begin{}, end{};
    bool found = false;
};

wait_span request_waits(const corio::task_trace& t, const request_report& r) {
    wait_span s;
    for (const corio::trace_interval& iv : t.intervals) {
        if (iv.kind != corio::trace_kind::waiting || iv.begin < r.request_begin ||
            iv.end > r.request_end)
            continue;
        if (!s.found)
            s.begin = iv.begin;
        s.end = iv.end;
        s.found = true;
    }
    return s;
}

const corio::task_trace* trace_of(const requests_run& run, int id) {
    const std::string name = "make_request(" + std::to_string(id) + ")";
    for (const corio::task_trace& t : run.traces)
        if (t.name == name)
            return &t;
    return nullptr;
}

double ms_between(corio::scheduler::time_point a, corio::scheduler::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

struct part3_settings {
    double scale = 1.0;
    double delay_s = 0.25;
    std::vector<std::string> urls;
    std::string headers_out = "headers.txt";
    std::string trace_out = "walkthrough-requests-trace.json";
    bool cold = false;
};

// Runs part 3 and prints it. With `checks`, also verifies what the self-test wants and says
// what failed. Returns the exit status.
int run_part3(const part3_settings& s, bool checks) {
    const double setup_target_ms = 75.0 * s.scale, post_target_ms = 50.0 * s.scale;
    request_settings cfg;
    cfg.headers_path = s.headers_out;
    cfg.sieve_n = calibrate_sieve(setup_target_ms);
    cfg.hash_bytes = calibrate_hash_bytes(post_target_ms);
    cfg.warm_up = s.urls.empty() && !s.cold;

    std::printf(
        "\n== Part 3, the seed's §2.2: three make_request tasks on one event loop, each doing\n"
        "   CPU-bound setup -> an HTTP GET -> CPU-bound post-processing -> append headers to a "
        "file\n");
    std::optional<embedded_server> server;
    try {
        if (s.urls.empty()) {
            server.emplace(std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::duration<double>(s.delay_s)));
            const std::string base = "http://127.0.0.1:" + std::to_string(server->port());
            for (int i = 1; i <= 3; ++i)
                cfg.urls.push_back(base + "/make_request/" + std::to_string(i));
            cfg.timeout = std::chrono::seconds(10);
            std::printf(
                "   server: corio's HTTP server at %s/, embedded (its own thread and loop),\n"
                "           answering each GET after %.2f s (--delay; --url for real servers)\n",
                base.c_str(), s.delay_s);
        } else {
            cfg.urls = s.urls;
            std::printf("   server: %s%s\n", s.urls.front().c_str(),
                        s.urls.size() > 1 ? " (and the other --url)" : "");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "walkthrough: cannot start the embedded server: %s\n", e.what());
        return 1;
    }
    std::printf("   CPU setup: a sieve of Eratosthenes up to %zu (~%.0f ms); post-processing: the\n"
                "   seed's header formatting, then FNV-1a over %.1f MB (~%.0f ms); --scale X\n",
                cfg.sieve_n, setup_target_ms, static_cast<double>(cfg.hash_bytes) / 1e6,
                post_target_ms);
    if (cfg.warm_up)
        std::printf(
            "   The client's pool is warmed up first (three GETs of /warmup, not traced), so\n"
            "   each GET goes out on an open keep-alive connection at once (--cold: no warm-up)\n");
    std::fflush(stdout);

    requests_run run;
    try {
        run = corio::run(requests_main(cfg, s.trace_out));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "walkthrough: part 3 failed: %s\n", e.what());
        return 1;
    }
    server.reset();

    int failures = 0;
    double sum_ms = 0;
    std::printf("\n");
    for (const request_report& r : run.reports) {
        if (!r.error.empty()) {
            ++failures;
            std::printf("   make_request(%d): %s failed: %s\n", r.id, r.url.c_str(),
                        r.error.c_str());
            continue;
        }
        std::printf(
            "   make_request(%d): %d %s, %zu bytes; setup %.0f ms, GET %.0f ms, post %.0f ms, "
            "write %.1f ms\n",
            r.id, r.status, r.reason.c_str(), r.body_bytes, r.setup_ms, r.request_ms, r.post_ms,
            r.write_ms);
        sum_ms += r.setup_ms + r.request_ms + r.post_ms + r.write_ms;
    }

    std::printf(
        "\nTimeline of part 3, the seed's figure 1.10 measured (one thread: one task on the CPU "
        "at a time,\nthe waits for the server overlapping):\n%s",
        run.timeline.c_str());

    // The waits, from the trace.
    std::vector<wait_span> spans;
    for (const request_report& r : run.reports) {
        const corio::task_trace* t = trace_of(run, r.id);
        spans.push_back(t && r.error.empty() ? request_waits(*t, r) : wait_span{});
    }
    const bool all_found = std::all_of(spans.begin(), spans.end(), [](auto& w) { return w.found; });
    bool overlap = false;
    if (all_found) {
        corio::scheduler::time_point lo = spans[0].begin, hi = spans[0].end;
        for (const wait_span& w : spans) {
            lo = std::max(lo, w.begin);
            hi = std::min(hi, w.end);
        }
        overlap = lo < hi;
        // Times from the creation of the first make_request task, as in the timeline.
        corio::scheduler::time_point origin = spans[0].begin;
        for (const corio::task_trace& t : run.traces)
            origin = std::min(origin, t.created);
        std::printf("\nThe GETs' waits (from the trace): ");
        for (std::size_t i = 0; i < spans.size(); ++i)
            std::printf("%s(%zu) %.0f-%.0f ms", i ? ", " : "", i + 1,
                        ms_between(origin, spans[i].begin) + 0.0, ms_between(origin, spans[i].end));
        if (overlap)
            std::printf(";\nall three were waiting at once for %.0f ms.\n", ms_between(lo, hi));
        else
            std::printf(";\nthey did not all overlap (a server slower than its delay, or a tiny "
                        "--delay).\n");
    }
    if (failures == 0)
        std::printf("Wall time %.0f ms for the three; one after the other they take the sum of "
                    "their parts, "
                    "%.0f ms:\n%.1fx faster, with no second thread running them.\n",
                    run.wall_ms, sum_ms, run.wall_ms > 0 ? sum_ms / run.wall_ms : 0.0);

    std::error_code ec;
    const auto shown_headers = std::filesystem::absolute(s.headers_out, ec);
    const auto shown_trace = std::filesystem::absolute(s.trace_out, ec);
    std::printf("\nResponse headers written to %s\nTrace of part 3 written to %s\n",
                shown_headers.empty() ? s.headers_out.c_str() : shown_headers.c_str(),
                ec ? s.trace_out.c_str() : shown_trace.c_str());
    if (!run.trace_error.empty()) {
        std::fprintf(stderr, "walkthrough: %s\n", run.trace_error.c_str());
        return 1;
    }
    if (!checks)
        return failures == 0 ? 0 : 1;

    // --- The self-test's checks, on the trace data (never on wall-clock speed).
    std::vector<std::string> problems;
    if (failures != 0)
        problems.push_back(std::to_string(failures) + " request(s) failed");
    for (const request_report& r : run.reports)
        if (r.error.empty() && r.status != 200)
            problems.push_back("make_request(" + std::to_string(r.id) + ") got status " +
                               std::to_string(r.status));
    std::string headers_txt;
    try {
        auto read = [](std::string p) -> corio::task<std::string> {
            auto read_all = corio::fs::read_file(p);
            co_return co_await std::move(read_all);
        };
        headers_txt = corio::run(read(s.headers_out));
    } catch (const std::exception& e) {
        problems.push_back(std::string("cannot read the headers file: ") + e.what());
    }
    for (int i = 1; i <= 3; ++i) {
        const std::string mark = "== make_request(" + std::to_string(i) + "): GET ";
        const auto at = headers_txt.find(mark);
        if (at == std::string::npos || headers_txt.find(mark, at + 1) != std::string::npos)
            problems.push_back("the headers file does not hold exactly one block of make_request(" +
                               std::to_string(i) + ")");
    }
    std::size_t content_lengths = 0;
    for (std::size_t at = headers_txt.find("\nContent-Length: "); at != std::string::npos;
         at = headers_txt.find("\nContent-Length: ", at + 1))
        ++content_lengths;
    if (content_lengths != 3)
        problems.push_back("the headers file has " + std::to_string(content_lengths) +
                           " Content-Length lines, not 3");
    if (run.traces.size() != 3)
        problems.push_back("the trace has " + std::to_string(run.traces.size()) +
                           " make_request tasks, not 3");
    if (!all_found)
        problems.push_back("a GET's wait is missing from the trace");
    else if (!overlap)
        problems.push_back("the three GETs' waits do not overlap in the trace");
    // One CPU-bound piece at a time: no two running intervals of the loop's tasks intersect.
    auto running = run.all_running;
    std::sort(running.begin(), running.end(), [](auto& a, auto& b) { return a.begin < b.begin; });
    for (std::size_t i = 1; i < running.size(); ++i)
        if (running[i].begin < running[i - 1].end)
            problems.push_back("two tasks were on the CPU at once");
    // Each task ran on the CPU before its GET's wait and again after it.
    for (std::size_t i = 0; i < run.reports.size() && all_found; ++i) {
        const corio::task_trace* t = trace_of(run, static_cast<int>(i + 1));
        bool before = false, after = false;
        for (const corio::trace_interval& iv : t->intervals) {
            if (iv.kind != corio::trace_kind::running)
                continue;
            before = before || iv.end <= spans[i].begin;
            after = after || iv.begin >= spans[i].end;
        }
        if (!before || !after)
            problems.push_back("make_request(" + std::to_string(i + 1) +
                               ") lacks a CPU slice before or after its GET");
    }
    if (!problems.empty()) {
        for (const std::string& p : problems)
            std::printf("self-test: FAILED: %s\n", p.c_str());
        return 1;
    }
    std::printf("self-test passed\n");
    return 0;
}

// --- Command line.

struct options {
    double scale = 1.0;
    std::string trace_out = "walkthrough-trace.json";
    int part = 0; // 0: all
    bool self_test = false;
    part3_settings part3;
};

void usage(std::FILE* to) {
    std::fprintf(
        to,
        "usage: walkthrough [--part N] [--scale X] [--trace-out PATH] [--delay S] [--url URL]...\n"
        "                   [--headers-out PATH] [--requests-trace-out PATH] [--self-test] "
        "[--cold] [--help]\n"
        "  --part N                   run only part N: 1 blocking, 2 non-blocking (seed §1.3),\n"
        "                             3 the three make_request tasks (seed §2.2); default: all\n"
        "  --scale X                  multiply the seed's 2 s sleeps and part 3's CPU work by X\n"
        "                             (default 1.0; try 0.1)\n"
        "  --trace-out PATH           where to write the Perfetto trace of part 2 (default\n"
        "                             walkthrough-trace.json)\n"
        "  --delay S                  part 3: the embedded server answers after S seconds "
        "(default 0.25)\n"
        "  --url URL                  part 3: GET URL instead of the embedded server; give it once "
        "(all\n"
        "                             three tasks use it) or up to three times (one per task)\n"
        "  --headers-out PATH         part 3: the file the response headers go to (default "
        "headers.txt)\n"
        "  --requests-trace-out PATH  part 3: its Perfetto trace (default\n"
        "                             walkthrough-requests-trace.json)\n"
        "  --cold                     part 3: no warm-up of the client's connections\n"
        "  --self-test                run part 3 small and fast, check the requests, the headers "
        "file\n"
        "                             and the overlap of the waits in the trace; files go to a "
        "temporary\n"
        "                             directory\n");
}

[[noreturn]] void bad_usage(const std::string& message) {
    std::fprintf(stderr, "walkthrough: error: %s\n", message.c_str());
    usage(stderr);
    std::exit(2);
}

double parse_number(const std::string& option, const std::string& v, double lo, double hi) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(x) || x <= lo || x > hi) {
        char range[64];
        std::snprintf(range, sizeof range, "(%g, %g]", lo, hi);
        bad_usage(option + " wants a number in " + range + ", got '" + v + "'");
    }
    return x;
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
            o.scale = parse_number("--scale", take_value(), 0, 100);
        } else if (arg == "--trace-out") {
            o.trace_out = take_value();
            if (o.trace_out.empty())
                bad_usage("--trace-out wants a file path");
        } else if (arg == "--part") {
            const std::string v = take_value();
            if (v != "1" && v != "2" && v != "3")
                bad_usage("--part wants 1, 2 or 3, got '" + v + "'");
            o.part = v[0] - '0';
        } else if (arg == "--delay") {
            o.part3.delay_s = parse_number("--delay", take_value(), -1e-9, 60);
        } else if (arg == "--url") {
            std::string u = take_value();
            try {
                (void)corio::http::url::parse(u);
            } catch (const std::invalid_argument& e) {
                bad_usage(std::string("--url: ") + e.what());
            }
            o.part3.urls.push_back(std::move(u));
            if (o.part3.urls.size() > 3)
                bad_usage("--url: at most three URLs (one per make_request task)");
        } else if (arg == "--headers-out") {
            o.part3.headers_out = take_value();
            if (o.part3.headers_out.empty())
                bad_usage("--headers-out wants a file path");
        } else if (arg == "--requests-trace-out") {
            o.part3.trace_out = take_value();
            if (o.part3.trace_out.empty())
                bad_usage("--requests-trace-out wants a file path");
        } else if (arg == "--cold") {
            o.part3.cold = true;
        } else if (arg == "--self-test") {
            o.self_test = true;
        } else {
            bad_usage("unknown option '" + std::string(argv[i]) + "'");
        }
    }
    return o;
}

int run_parts_1_and_2(const options& opt) {
    g_nap = std::chrono::duration_cast<std::chrono::nanoseconds>(2s * opt.scale);
    const double nap_s = std::chrono::duration<double>(g_nap).count();
    std::printf(
        "corio walkthrough: blocking vs non-blocking (seed §1.3), each task sleeps %.2f s\n",
        nap_s);

    double blocking_s = 0;
    if (opt.part == 0 || opt.part == 1) {
        std::printf(
            "\n== Part 1, blocking: task1(); task2(); each calls std::this_thread::sleep_for\n");
        const auto start = wall_clock::now();
        blocking_task1();
        blocking_task2();
        blocking_s = seconds_since(start);
        std::printf(
            "   took %.2f s: the thread was stuck in sleep_for, so task 2 waited for task 1.\n",
            blocking_s);
    }
    if (opt.part == 1)
        return 0;

    std::printf("\n== Part 2, non-blocking: corio::run(main), where main does\n"
                "   co_await corio::gather(task1(), task2()); each task calls co_await "
                "corio::sleep\n");
    std::fflush(stdout);
    const auto start = wall_clock::now();
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

    if (opt.part == 0)
        std::printf(
            "\nBlocking %.2f s, non-blocking %.2f s: %.1fx faster on the same single thread.\n"
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

// --self-test: part 3 at a tenth of its size, its files in a temporary directory.
int self_test(options opt) {
    char dir_template[] = "/tmp/corio-walkthrough-XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    if (!dir) {
        std::perror("walkthrough: mkdtemp");
        return 1;
    }
    opt.part3.scale = 0.1;
    opt.part3.headers_out = std::string(dir) + "/headers.txt";
    opt.part3.trace_out = std::string(dir) + "/requests-trace.json";
    const int status = run_part3(opt.part3, true);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return status;
}

} // namespace

int main(int argc, char** argv) {
    options opt = parse(argc, argv);
    opt.part3.scale = opt.scale;
    if (opt.self_test)
        return self_test(opt);
    if (opt.part != 3) {
        if (const int status = run_parts_1_and_2(opt); status != 0 || opt.part != 0)
            return status;
    }
    return run_part3(opt.part3, false);
}

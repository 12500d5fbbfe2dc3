#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/http/parser.hpp"
#include "corio/http/server.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/to_thread.hpp"
#include "corio/sync/event.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

// A counting global operator new for the allocation test, left out under the sanitizers (which
// bring their own allocator). It counts only while t_counting is set, on this thread.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CORIO_TEST_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORIO_TEST_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef CORIO_TEST_COUNT_ALLOCATIONS
#define CORIO_TEST_COUNT_ALLOCATIONS 1
#endif

namespace {
thread_local bool t_counting = false;
thread_local std::size_t t_allocations = 0;
} // namespace

#if CORIO_TEST_COUNT_ALLOCATIONS
namespace {
// Not inlined: g++ 12 at -O2 would otherwise see malloc's pointer reach free() through an
// inlined `delete` and warn about a mismatched pair (-Wmismatched-new-delete).
[[gnu::noinline]] void* counted_malloc(std::size_t n) {
    if (t_counting)
        ++t_allocations;
    if (void* p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void counted_free(void* p) noexcept {
    std::free(p);
}
} // namespace

void* operator new(std::size_t n) {
    return counted_malloc(n);
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}
#endif

namespace http = corio::http;
using namespace std::chrono_literals;
using corio::task;

namespace {

// What the test routes share with the test body.
struct fixture {
    corio::event slow_started;
    corio::event slow_release;
    bool slow_cancelled = false;
    int sleeps_cancelled = 0;
};

http::router make_router(fixture& f) {
    http::router r;
    r.get("/", [](http::request&) -> task<http::response> {
        co_return http::response::text(200, "Hello, World!");
    });
    r.get("/echo/{id}", [](http::request& req) -> task<http::response> {
        co_return http::response::text(200, std::string(req.param("id")));
    });
    r.post("/echo", [](http::request& req) -> task<http::response> {
        co_return http::response::text(200, req.take_body());
    });
    r.get("/stream", [](http::request&) -> task<http::response> {
        co_return http::response::stream(200, [](http::body_writer& w) -> task<void> {
            const std::array<std::string_view, 3> parts{"a", "bb", "ccc"};
            for (std::string_view p : parts)
                co_await w.write(p);
        });
    });
    r.get("/throw", [](http::request&) -> task<http::response> {
        throw std::runtime_error("boom");
        co_return http::response(200);
    });
    r.get("/peer", [](http::request& req) -> task<http::response> {
        co_return http::response::text(200, std::to_string(req.peer().port()));
    });
    r.get("/thread", [](http::request&) -> task<http::response> {
        const auto id = std::hash<std::thread::id>()(std::this_thread::get_id());
        co_return http::response::text(200, std::to_string(id));
    });
    r.get("/slow", [&f](http::request&) -> task<http::response> {
        f.slow_started.set();
        try {
            co_await f.slow_release.wait();
        } catch (const corio::cancelled_error&) {
            f.slow_cancelled = true;
            throw;
        }
        co_return http::response::text(200, "slow done");
    });
    r.get("/sleep", [&f](http::request&) -> task<http::response> {
        try {
            co_await corio::sleep(60s);
        } catch (const corio::cancelled_error&) {
            ++f.sleeps_cancelled;
            throw;
        }
        co_return http::response::text(200, "slept");
    });
    return r;
}

// One parsed response, as a client reads it.
struct reply {
    int status = 0;
    http::headers headers;
    std::string body;
    bool keep_alive = true;
};

task<reply> read_reply(corio::stream_reader& r, std::string_view method = "GET") {
    std::string head = co_await r.readuntil("\r\n\r\n");
    http::response_head h;
    const std::size_t used = http::parse_response_head(head, h, method);
    EXPECT_EQ(used, head.size());
    reply out;
    out.status = h.status;
    out.keep_alive = h.keep_alive;
    for (const http::header_view& f : h.headers)
        out.headers.add(std::string(f.name), std::string(f.value));
    if (h.body == http::body_kind::content_length) {
        out.body = co_await r.readexactly(h.content_length);
    } else if (h.body == http::body_kind::chunked) {
        for (;;) {
            std::string line = co_await r.readuntil("\r\n");
            std::size_t size = 0;
            std::from_chars(line.data(), line.data() + line.size(), size, 16);
            if (size == 0) {
                std::string end = co_await r.readuntil("\r\n"); // no trailers
                EXPECT_EQ(end, "\r\n");
                break;
            }
            std::string data = co_await r.readexactly(size + 2);
            out.body += data.substr(0, size);
        }
    }
    co_return out;
}

// A client connection.
struct client {
    corio::stream_reader r;
    corio::stream_writer w;
};

task<client> connect(std::uint16_t port) {
    task<corio::streams> t = corio::open_connection("127.0.0.1", port);
    corio::streams s = co_await std::move(t);
    co_return client{std::move(s.reader), std::move(s.writer)};
}

// Sends `bytes` and reads one reply.
task<reply> roundtrip(client& c, std::string_view bytes, std::string_view method = "GET") {
    co_await c.w.write(bytes);
    task<reply> t = read_reply(c.r, method);
    co_return co_await std::move(t);
}

// Call it with named options (`task<http::server> t = start(f, o);`): g++ 12 mishandles a
// temporary (such as a defaulted argument) built inside a co_await expression.
task<http::server> start(fixture& f, http::server_options o) {
    task<http::server> t = http::start_server(make_router(f), "127.0.0.1", 0, std::move(o));
    co_return co_await std::move(t);
}

task<http::server> start(fixture& f) {
    http::server_options o;
    task<http::server> t = http::start_server(make_router(f), "127.0.0.1", 0, std::move(o));
    co_return co_await std::move(t);
}

// Runs `body` on a loop with the real clock (the tests that need time use run_virtual).
template <typename F>
void run_real(F body) {
    corio::event_loop loop;
    task<void> t = body();
    loop.run_until_complete(std::move(t));
}

constexpr std::string_view get_root = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

} // namespace

TEST(HttpServer, AnswersAGetWithTheHandlersResponseAndTheServerHeaders) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        reply r = co_await roundtrip(c, get_root);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "Hello, World!");
        EXPECT_EQ(r.headers.get("Content-Length").value_or(""), "13");
        EXPECT_EQ(r.headers.get("Content-Type").value_or(""), "text/plain; charset=utf-8");
        EXPECT_EQ(r.headers.get("Server").value_or(""), "corio");
        EXPECT_EQ(r.headers.get("Date").value_or("").size(), 29u); // IMF-fixdate
        EXPECT_TRUE(r.keep_alive);
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, AnswersUnknownPathsWith404AndWrongMethodsWith405) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        reply a = co_await roundtrip(c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(a.status, 404);
        reply b = co_await roundtrip(c, "DELETE / HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(b.status, 405);
        EXPECT_EQ(b.headers.get("Allow").value_or(""), "GET, HEAD");
        reply ok = co_await roundtrip(c, get_root); // the connection goes on
        EXPECT_EQ(ok.status, 200);
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, AnswersHeadWithTheGetHeadersAndNoBody) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        reply h = co_await roundtrip(c, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", "HEAD");
        EXPECT_EQ(h.status, 200);
        EXPECT_EQ(h.headers.get("Content-Length").value_or(""), "13");
        EXPECT_EQ(h.body, "");
        // Had a body been sent, this would read it instead of the next response.
        reply g = co_await roundtrip(c, "GET /echo/next HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(g.body, "next");
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, ServesManyRequestsOnOneKeepAliveConnection) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        for (int i = 0; i < 200; ++i) {
            std::string req = "GET /echo/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
            reply r = co_await roundtrip(c, req);
            EXPECT_EQ(r.body, std::to_string(i));
        }
        EXPECT_EQ(srv.connection_count(), 1u);
        EXPECT_EQ(srv.requests_served(), 200u);
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, AnswersTenPipelinedRequestsInOrder) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        std::string all;
        for (int i = 0; i < 10; ++i)
            all += "GET /echo/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
        co_await c.w.write(all); // one write
        for (int i = 0; i < 10; ++i) {
            task<reply> t = read_reply(c.r);
            reply r = co_await std::move(t);
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, std::to_string(i));
        }
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, AnswersPipelinedRequestsSplitAcrossWritesInOrder) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        const std::string all = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                                "GET /echo/x HTTP/1.1\r\nHost: t\r\n\r\n";
        for (char ch : all) { // byte by byte: every split point
            const std::string one(1, ch);
            co_await c.w.write(one);
        }
        reply a = co_await read_reply(c.r);
        reply b = co_await read_reply(c.r);
        EXPECT_EQ(a.body, "hello");
        EXPECT_EQ(b.body, "x");
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, ReadsAContentLengthBody) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        const std::string big(100000, 'x');
        const std::string req =
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + big;
        reply r = co_await roundtrip(c, req);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, big);
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, ReadsAChunkedBody) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        reply r = co_await roundtrip(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n"
                                        "5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\n"
                                        "X-Trailer: 1\r\n\r\n");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "hello, world");
        reply next = co_await roundtrip(c, get_root);
        EXPECT_EQ(next.status, 200);
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, AnswersExpect100ContinueBeforeReadingTheBody) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        co_await c.w.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                           "Expect: 100-continue\r\n\r\n");
        std::string interim = co_await c.r.readuntil("\r\n\r\n");
        EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        reply r = co_await roundtrip(c, "data");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "data");
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, StreamsAChunkedResponse) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        reply r = co_await roundtrip(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.headers.get("Transfer-Encoding").value_or(""), "chunked");
        EXPECT_FALSE(r.headers.contains("Content-Length"));
        EXPECT_EQ(r.body, "abbccc");
        reply next = co_await roundtrip(c, get_root); // the connection goes on
        EXPECT_EQ(next.body, "Hello, World!");
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, StreamsToAnHttp10ClientUntilTheConnectionCloses) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        co_await c.w.write("GET /stream HTTP/1.0\r\n\r\n");
        std::string all = co_await c.r.read(-1);
        EXPECT_NE(all.find("Connection: close\r\n"), std::string::npos);
        EXPECT_EQ(all.find("Transfer-Encoding"), std::string::npos);
        EXPECT_TRUE(all.ends_with("\r\n\r\nabbccc")) << all;
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, KeepsAnHttp10ConnectionOnlyWhenAsked) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client a = co_await connect(srv.port());
        reply ka = co_await roundtrip(a, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        EXPECT_EQ(ka.headers.get("Connection").value_or(""), "keep-alive");
        reply again = co_await roundtrip(a, "GET / HTTP/1.0\r\n\r\n");
        EXPECT_EQ(again.headers.get("Connection").value_or(""), "close");
        std::string rest = co_await a.r.read(-1);
        EXPECT_EQ(rest, "");
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, EverySmugglingShapeGets400AndClosesOnlyItsConnection) {
    const std::vector<std::string> shapes = {
        // Content-Length with Transfer-Encoding.
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // Differing duplicate Content-Length.
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        // Content-Length that is not a number.
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
        // obs-fold.
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n",
        // A bare CR (CVE-2023-30589).
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\rc\r\n\r\n",
        // A space before the colon.
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello",
        // A malformed chunk size.
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
        "chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        // A malformed request line.
        "GET  / HTTP/1.1\r\nHost: t\r\n\r\n",
    };
    run_real([&]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client good = co_await connect(srv.port());
        for (const std::string& bad : shapes) {
            client c = co_await connect(srv.port());
            reply r = co_await roundtrip(c, bad);
            EXPECT_EQ(r.status, 400) << bad;
            EXPECT_FALSE(r.keep_alive) << bad;
            EXPECT_EQ(r.headers.get("Connection").value_or(""), "close");
            EXPECT_FALSE(r.body.empty());
            std::string rest = co_await c.r.read(-1);
            EXPECT_EQ(rest, "") << bad; // nothing after the error: the connection closed
            reply ok = co_await roundtrip(good, get_root);
            EXPECT_EQ(ok.status, 200) << "after " << bad;
        }
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, AnswersTheParsersStatusForOversizedAndUnsupportedRequests) {
    run_real([]() -> task<void> {
        fixture f;
        http::server_options o;
        o.limits.max_head_bytes = 1024;
        o.limits.max_body_bytes = 100;
        task<http::server> st = start(f, o);
        http::server srv = co_await std::move(st);
        struct expected {
            std::string request;
            int status;
        };
        const std::vector<expected> cases = {
            {"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n", 431},
            {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n", 413},
            {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" +
                 std::string(128, 'b') + "\r\n0\r\n\r\n",
             413},
            {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
            {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
        };
        for (const expected& e : cases) {
            client c = co_await connect(srv.port());
            reply r = co_await roundtrip(c, e.request);
            EXPECT_EQ(r.status, e.status) << e.request.substr(0, 60);
            EXPECT_FALSE(r.keep_alive);
        }
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, AnswersAHandlerExceptionWith500AndKeepsTheConnection) {
    corio::event_loop loop;
    std::vector<std::string> reports;
    loop.set_exception_handler([&](corio::scheduler&, const corio::exception_context& c) {
        reports.push_back(c.message);
    });
    auto body = [&]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        reply r = co_await roundtrip(c, "GET /throw HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(r.status, 500);
        EXPECT_TRUE(r.keep_alive);
        reply ok = co_await roundtrip(c, get_root);
        EXPECT_EQ(ok.status, 200);
        co_await srv.shutdown(0ms);
    };
    task<void> t = body();
    loop.run_until_complete(std::move(t));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].find("GET /throw"), std::string::npos) << reports[0];
}

TEST(HttpServer, ClosesAConnectionWhoseHeadDoesNotArriveWithinTheHeaderTimeout) {
    corio::test::run_virtual([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        corio::scheduler& loop = *corio::scheduler::current();
        const auto t0 = loop.time();
        co_await c.w.write("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: "); // and nothing more
        reply r = co_await read_reply(c.r);
        EXPECT_EQ(r.status, 408);
        std::string rest = co_await c.r.read(-1);
        EXPECT_EQ(rest, "");
        const auto waited = loop.time() - t0;
        EXPECT_GE(waited, 10s);
        EXPECT_LT(waited, 11s);
        co_await srv.shutdown(0ms);
    }());
}

TEST(HttpServer, ASlowlorisTricklingBytesIsCutOffAtTheHeaderTimeout) {
    corio::test::run_virtual([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        corio::scheduler& loop = *corio::scheduler::current();
        const auto t0 = loop.time();
        co_await c.w.write("GET / HTTP/1.1\r\n");
        // A header line a second, for 30 s, while the test reads until the connection ends.
        auto trickle = [](corio::stream_writer w) -> task<void> {
            try {
                for (int i = 0; i < 30; ++i) {
                    co_await corio::sleep(1s);
                    co_await w.write("X-A: b\r\n");
                }
            } catch (const std::system_error&) {
                // The server closed the connection.
            }
        };
        corio::task_handle<void> trickler = corio::create_task(trickle(c.w));
        // The server answers 408 and closes; as the client is still sending, the close may
        // reset the connection before the client has read the answer (there is no lingering
        // close), so either is accepted here: the point is that it ends in time.
        bool ended = false;
        try {
            std::string rest = co_await c.r.read(-1);
            ended = rest.empty() || rest.find("408") != std::string::npos;
        } catch (const std::system_error&) {
            ended = true;
        }
        EXPECT_LE(loop.time() - t0, 11s); // the header timeout is 10 s
        EXPECT_TRUE(ended);
        trickler.cancel();
        try {
            co_await trickler;
        } catch (const corio::cancelled_error&) {
        }
        co_await srv.shutdown(0ms);
    }());
}

TEST(HttpServer, ClosesAnIdleKeepAliveConnectionAfterTheKeepAliveTimeout) {
    corio::test::run_virtual([]() -> task<void> {
        fixture f;
        http::server_options o;
        o.keep_alive_timeout = 5s;
        task<http::server> st = start(f, o);
        http::server srv = co_await std::move(st);
        client c = co_await connect(srv.port());
        reply r = co_await roundtrip(c, get_root);
        EXPECT_EQ(r.status, 200);
        corio::scheduler& loop = *corio::scheduler::current();
        const auto t0 = loop.time();
        std::string rest = co_await c.r.read(-1); // the server closes, silently
        EXPECT_EQ(rest, "");
        const auto waited = loop.time() - t0;
        EXPECT_GE(waited, 5s);
        EXPECT_LT(waited, 6s);
        EXPECT_EQ(srv.connection_count(), 0u);
        co_await srv.shutdown(0ms);
    }());
}

TEST(HttpServer, ABodyThatStopsComingTimesOutWith408) {
    corio::test::run_virtual([]() -> task<void> {
        fixture f;
        http::server_options o;
        o.body_timeout = 7s;
        task<http::server> st = start(f, o);
        http::server srv = co_await std::move(st);
        client c = co_await connect(srv.port());
        corio::scheduler& loop = *corio::scheduler::current();
        const auto t0 = loop.time();
        co_await c.w.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
        reply r = co_await read_reply(c.r);
        EXPECT_EQ(r.status, 408);
        EXPECT_GE(loop.time() - t0, 7s);
        co_await srv.shutdown(0ms);
    }());
}

TEST(HttpServer, ShutdownFinishesTheRequestInProgressAndRefusesNewConnections) {
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        const std::uint16_t port = srv.port();
        client idle = co_await connect(port);
        reply warm = co_await roundtrip(idle, get_root);
        EXPECT_EQ(warm.status, 200);
        client busy = co_await connect(port);
        co_await busy.w.write("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        co_await f.slow_started.wait();

        task<void> s = srv.shutdown(10s);
        corio::task_handle<void> shutting = corio::create_task(std::move(s));
        co_await corio::sleep(0s);
        // The idle keep-alive connection closes at once.
        std::string idle_rest = co_await idle.r.read(-1);
        EXPECT_EQ(idle_rest, "");
        // New connections are refused.
        bool refused = false;
        try {
            client late = co_await connect(port);
        } catch (const std::exception&) {
            refused = true;
        }
        EXPECT_TRUE(refused);
        EXPECT_FALSE(shutting.done());
        // The request in progress completes, with Connection: close.
        f.slow_release.set();
        reply r = co_await read_reply(busy.r);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "slow done");
        EXPECT_FALSE(r.keep_alive);
        co_await shutting;
        EXPECT_EQ(srv.connection_count(), 0u);
        EXPECT_FALSE(f.slow_cancelled);
    });
}

TEST(HttpServer, ShutdownAbortsARequestThatOutlastsTheGracePeriod) {
    corio::test::run_virtual([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        co_await c.w.write("GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n");
        co_await corio::sleep(1s); // the handler is asleep for 60 s
        corio::scheduler& loop = *corio::scheduler::current();
        const auto t0 = loop.time();
        co_await srv.shutdown(2s);
        const auto took = loop.time() - t0;
        EXPECT_GE(took, 2s);
        EXPECT_LT(took, 3s);
        EXPECT_EQ(f.sleeps_cancelled, 1);
        bool ended = false;
        try {
            std::string rest = co_await c.r.read(-1);
            ended = rest.empty();
        } catch (const std::system_error&) {
            ended = true; // reset
        }
        EXPECT_TRUE(ended);
        EXPECT_EQ(srv.connection_count(), 0u);
    }());
}

TEST(HttpServer, LimitsTheNumberOfConnections) {
    run_real([]() -> task<void> {
        fixture f;
        http::server_options o;
        o.max_connections = 2;
        task<http::server> st = start(f, o);
        http::server srv = co_await std::move(st);
        client a = co_await connect(srv.port());
        client b = co_await connect(srv.port());
        reply ra = co_await roundtrip(a, get_root);
        reply rb = co_await roundtrip(b, get_root);
        EXPECT_EQ(ra.status, 200);
        EXPECT_EQ(rb.status, 200);
        client c = co_await connect(srv.port());
        co_await c.w.write(get_root);
        // Closed without an answer: the end of the stream, or a reset when the server closed
        // the socket with the request already in it (unread data makes the kernel reset).
        std::string rest = "not closed";
        try {
            rest = co_await c.r.read(-1);
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code().value(), ECONNRESET) << e.what();
            rest.clear();
        }
        EXPECT_EQ(rest, "");
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, LeavesNoFileDescriptorOpen) {
    const std::size_t before = corio::test::open_fd_count();
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        std::vector<client> clients;
        for (int i = 0; i < 20; ++i) {
            clients.push_back(co_await connect(srv.port()));
            reply r = co_await roundtrip(clients.back(), get_root);
            EXPECT_EQ(r.status, 200);
        }
        client bad = co_await connect(srv.port());
        reply r = co_await roundtrip(bad, "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n");
        EXPECT_EQ(r.status, 400);
        co_await srv.shutdown(0ms);
        clients.clear();
    });
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

namespace {

// Runs a shell command on the thread pool and returns its standard output.
std::string run_command(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p)
        return out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    ::pclose(p);
    return out;
}

bool have_curl() {
    return std::system("curl --version > /dev/null 2>&1") == 0;
}

} // namespace

TEST(HttpServer, CurlGetsTheResponse) {
    if (!have_curl())
        GTEST_SKIP() << "curl is not installed";
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        const std::string cmd =
            "curl -s -i --max-time 20 http://127.0.0.1:" + std::to_string(srv.port()) + "/";
        auto call = [cmd] { return run_command(cmd); };
        std::string out = co_await corio::to_thread(call);
        EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n")) << out;
        EXPECT_NE(out.find("Content-Length: 13\r\n"), std::string::npos) << out;
        EXPECT_TRUE(out.ends_with("\r\n\r\nHello, World!")) << out;
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, CurlReusesTheKeepAliveConnectionForTwoUrls) {
    if (!have_curl())
        GTEST_SKIP() << "curl is not installed";
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        const std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/peer";
        const std::string cmd = "curl -s --http1.1 --max-time 20 -w '\\n' " + url + " " + url;
        auto call = [cmd] { return run_command(cmd); };
        std::string out = co_await corio::to_thread(call);
        // Both answers name the client's port: the same port, so the same connection.
        const auto nl = out.find('\n');
        EXPECT_NE(nl, std::string::npos) << out;
        if (nl == std::string::npos) {
            co_await srv.shutdown(0ms);
            co_return;
        }
        const std::string first = out.substr(0, nl);
        const std::string second = out.substr(nl + 1, out.find('\n', nl + 1) - nl - 1);
        EXPECT_FALSE(first.empty());
        EXPECT_EQ(first, second) << out;
        EXPECT_EQ(srv.requests_served(), 2u);
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, CurlPostsAChunkedBody) {
    if (!have_curl())
        GTEST_SKIP() << "curl is not installed";
    run_real([]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        const std::string cmd = "printf 'streamed body' | curl -s --max-time 20 -H "
                                "'Transfer-Encoding: chunked' --data-binary @- http://127.0.0.1:" +
                                std::to_string(srv.port()) + "/echo";
        auto call = [cmd] { return run_command(cmd); };
        std::string out = co_await corio::to_thread(call);
        EXPECT_EQ(out, "streamed body");
        co_await srv.shutdown(0ms);
    });
}

TEST(HttpServer, ServesOnSeveralThreadsWithOnePortPerServer) {
    run_real([]() -> task<void> {
        fixture f;
        http::server_options o;
        o.threads = 2;
        task<http::server> st = start(f, o);
        http::server srv = co_await std::move(st);
        // Many connections: the kernel spreads them over both listeners.
        std::set<std::string> threads;
        for (int i = 0; i < 40; ++i) {
            client c = co_await connect(srv.port());
            reply r = co_await roundtrip(c, "GET /thread HTTP/1.1\r\nHost: t\r\n\r\n");
            EXPECT_EQ(r.status, 200);
            threads.insert(r.body);
        }
        EXPECT_GE(threads.size(), 1u);
        co_await srv.shutdown(1s);
        bool refused = false;
        try {
            client late = co_await connect(srv.port());
        } catch (const std::exception&) {
            refused = true;
        }
        EXPECT_TRUE(refused);
    });
}

TEST(HttpServer, AllocatesNothingPerKeepAliveRequestOnceWarm) {
    if (!CORIO_TEST_COUNT_ALLOCATIONS)
        GTEST_SKIP() << "the sanitizers replace operator new";
    std::size_t counted = 0;
    run_real([&]() -> task<void> {
        fixture f;
        http::server srv = co_await start(f);
        client c = co_await connect(srv.port());
        // Warm up (and learn the length of the response, which does not change).
        std::size_t length = 0;
        t_allocations = 0;
        t_counting = true; // the counter works: read_reply allocates its strings
        for (int i = 0; i < 50; ++i) {
            co_await c.w.write(get_root);
            reply r = co_await read_reply(c.r);
            EXPECT_EQ(r.status, 200);
            length = 17 + r.body.size() + 2; // status line + CRLF after the head
            for (const auto& [name, value] : r.headers)
                length += name.size() + 2 + value.size() + 2;
        }
        t_counting = false;
        EXPECT_GT(t_allocations, 0u);
        // Then count: the client side allocates nothing either (a fixed buffer, views).
        std::array<std::byte, 4096> buf;
        t_allocations = 0;
        t_counting = true;
        for (int i = 0; i < 200; ++i) {
            co_await c.w.write(get_root);
            std::size_t got = 0;
            while (got < length) {
                const std::size_t n = co_await c.r.read_some(buf);
                if (n == 0)
                    break;
                got += n;
            }
            EXPECT_EQ(got, length);
        }
        t_counting = false;
        counted = t_allocations;
        co_await srv.shutdown(0ms);
    });
    EXPECT_EQ(counted, 0u);
}

TEST(HttpServer, DestroyingTheServerWithoutShutdownEndsItsConnections) {
    run_real([]() -> task<void> {
        fixture f;
        client c;
        {
            http::server srv = co_await start(f);
            c = co_await connect(srv.port());
            reply r = co_await roundtrip(c, get_root);
            EXPECT_EQ(r.status, 200);
        } // destroyed here, with the connection idle in it
        bool ended = false;
        try {
            std::string rest = co_await c.r.read(-1);
            ended = rest.empty();
        } catch (const std::system_error&) {
            ended = true; // reset
        }
        EXPECT_TRUE(ended);
    });
}

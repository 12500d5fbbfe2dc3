// http::client against corio's own http::server: the two ends of corio::http together.

#include "corio/http/client.hpp"
#include "corio/http/request.hpp"
#include "corio/http/response.hpp"
#include "corio/http/router.hpp"
#include "corio/http/server.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace {

using corio::task;
using corio::test::run_virtual;
namespace http = corio::http;

task<http::response> hello(http::request&) {
    co_return http::response::text(200, "Hello, World!");
}

task<http::response> echo(http::request& rq) {
    http::response r = http::response::text(200, rq.take_body());
    r.headers.add("X-Method", std::string(rq.method()));
    co_return r;
}

task<void> count_to_five(http::body_writer& w) {
    for (int i = 1; i <= 5; ++i) {
        const std::string line = std::to_string(i) + "\n";
        co_await w.write(line);
    }
}

task<http::response> counted(http::request&) {
    co_return http::response::stream(200, count_to_five);
}

task<http::response> moved(http::request&) {
    http::response r(303);
    r.headers.add("Location", "/hello");
    co_return r;
}

http::router routes() {
    http::router r;
    r.get("/hello", hello);
    r.post("/echo", echo);
    r.get("/count", counted);
    r.post("/moved", moved);
    return r;
}

task<http::server> start() {
    const std::string host = "127.0.0.1";
    auto starting = http::start_server(routes(), host, 0);
    co_return co_await std::move(starting);
}

TEST(ClientServer, KeepAliveRequestsOfEveryKindShareOneConnection) {
    run_virtual([]() -> task<void> {
        http::server srv = co_await start();
        const std::string base = "http://127.0.0.1:" + std::to_string(srv.port());
        http::client c;
        {
            const std::string url = base + "/hello";
            http::client_response r = co_await c.get(url);
            EXPECT_EQ(r.status(), 200);
            EXPECT_EQ(r.body(), "Hello, World!");
        }
        {
            const std::string url = base + "/echo";
            const std::string body(100000, 'b');
            http::client_response r = co_await c.post(url, body, "application/octet-stream");
            EXPECT_EQ(r.body(), body);
            EXPECT_EQ(r.headers().get("X-Method").value_or(""), "POST");
        }
        {
            const std::string url = base + "/count";
            http::client_response r = co_await c.get(url);
            EXPECT_EQ(r.headers().get("Transfer-Encoding").value_or(""), "chunked");
            EXPECT_EQ(r.body(), "1\n2\n3\n4\n5\n");
        }
        {
            const std::string url = base + "/moved";
            http::client_response r = co_await c.post(url, "x", "text/plain");
            EXPECT_EQ(r.status(), 200);
            EXPECT_EQ(r.body(), "Hello, World!");
            EXPECT_EQ(r.url().str(), base + "/hello");
        }
        {
            const std::string url = base + "/nowhere";
            http::client_response r = co_await c.get(url);
            EXPECT_EQ(r.status(), 404);
            EXPECT_THROW(r.raise_for_status(), http::status_error);
        }
        EXPECT_EQ(c.open_connections(base), 1u);
        EXPECT_EQ(srv.requests_served(), 6u);
        c.close();
        auto stopping = srv.shutdown(std::chrono::seconds(1));
        co_await std::move(stopping);
    }());
}

TEST(ClientServer, TheServersIdleCloseIsNoticedAndANewConnectionUsed) {
    run_virtual([]() -> task<void> {
        http::server srv = co_await start();
        const std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/hello";
        http::client c;
        EXPECT_EQ((co_await c.get(url)).body(), "Hello, World!");
        // Past the server's keep-alive timeout (5 s) but within the client's idle timeout (15 s).
        co_await corio::sleep(std::chrono::seconds(6));
        EXPECT_EQ((co_await c.get(url)).body(), "Hello, World!");
        EXPECT_EQ(srv.requests_served(), 2u);
        c.close();
        auto stopping = srv.shutdown(std::chrono::seconds(1));
        co_await std::move(stopping);
    }());
}

} // namespace

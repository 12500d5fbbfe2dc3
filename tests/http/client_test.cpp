// http::client against small canned-byte servers (corio::start_server): bodies of every kind,
// keep-alive and the pool, stale pooled connections, redirects, timeouts, streaming,
// malformed responses and cancellation.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/gather.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/http/client.hpp"
#include "corio/http/parse_error.hpp"
#include "corio/io/incomplete_read_error.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/io/server.hpp"
#include "corio/sync/event.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"
#include "corio/tls/context.hpp"
#include "corio/tls/server.hpp"
#include "corio/tls/tls_error.hpp"

#include "support/loop_helpers.hpp"
#include "tls/test_certs.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::stream_reader;
using corio::stream_writer;
using corio::task;
using corio::test::run_virtual;
using namespace std::chrono_literals;
namespace http = corio::http;

/// What a canned server saw, and how it answers.
struct canned {
    /// Writes the answer to request number `index` (0-based, over all connections; `request` is
    /// the head and body as received). Returns false to close the connection afterwards.
    /// A plain function pointer: test code passes no class-type temporary inside a co_await
    /// expression (g++ 12 destroys those twice, see DESIGN.md).
    using respond_fn = task<bool> (*)(canned&, std::size_t index, const std::string& request,
                                      stream_writer& w);
    respond_fn respond;
    std::vector<std::string> replies; // for reply_in_turn
    std::size_t accepted = 0;
    std::size_t open = 0;
    std::size_t max_open = 0;
    std::size_t closed = 0;
    std::vector<std::string> requests;
    corio::event connection_closed;
};

/// Answers request i with replies[min(i, n-1)]; keeps the connection open.
task<bool> reply_in_turn(canned& c, std::size_t i, const std::string&, stream_writer& w) {
    const std::string r = c.replies[std::min(i, c.replies.size() - 1)];
    co_await w.write(r);
    co_return true;
}

/// The value of header `name` in a raw request (exact case), or "".
std::string header_of(const std::string& request, const std::string& name) {
    const auto at = request.find("\r\n" + name + ": ");
    if (at == std::string::npos)
        return "";
    const auto from = at + name.size() + 4;
    return request.substr(from, request.find("\r\n", from) - from);
}

/// The request line's method and target.
std::string request_line(const std::string& request) {
    const auto end = request.find(" HTTP/1.1\r\n");
    return end == std::string::npos ? "" : request.substr(0, end);
}

std::string body_of(const std::string& request) {
    const auto at = request.find("\r\n\r\n");
    return at == std::string::npos ? "" : request.substr(at + 4);
}

/// One connection of a canned server: reads request heads (and Content-Length bodies), answers.
task<void> serve_connection(std::shared_ptr<canned> c, stream_reader r, stream_writer w) {
    ++c->accepted;
    ++c->open;
    c->max_open = std::max(c->max_open, c->open);
    try {
        for (;;) {
            std::string request = co_await r.readuntil("\r\n\r\n");
            if (const std::string len = header_of(request, "Content-Length"); !len.empty())
                request += co_await r.readexactly(std::stoul(len));
            const std::size_t index = c->requests.size();
            c->requests.push_back(request);
            if (!co_await c->respond(*c, index, request, w))
                break;
        }
    } catch (const corio::incomplete_read_error&) {
        // the client closed the connection
    } catch (const std::system_error&) {
        // the client reset the connection
    }
    w.close();
    --c->open;
    ++c->closed;
    c->connection_closed.set();
}

/// The servers the running test started; run_test stops them after the test's body.
std::vector<std::shared_ptr<corio::server>>& live_servers() {
    static std::vector<std::shared_ptr<corio::server>> servers;
    return servers;
}

task<void> stop_servers() {
    std::vector<std::shared_ptr<corio::server>> servers = std::move(live_servers());
    live_servers().clear();
    for (auto& srv : servers) {
        srv->close();
        srv->abort_clients();
    }
    for (auto& srv : servers)
        co_await srv->wait_closed();
}

task<void> with_cleanup(task<void> body) {
    std::exception_ptr failure;
    try {
        co_await std::move(body);
    } catch (...) {
        failure = std::current_exception();
    }
    co_await stop_servers();
    if (failure)
        std::rethrow_exception(failure);
}

/// Runs a test's body on the virtual clock, then stops its servers (and their connections'
/// handlers), so that no task is left pending.
void run_test(task<void> body) {
    run_virtual(with_cleanup(std::move(body)));
}

struct test_server {
    std::shared_ptr<canned> state;
    std::shared_ptr<corio::server> srv;
    std::uint16_t port = 0;
    /// The URLs handed out, kept so that url() can return a view (no std::string temporary
    /// inside `co_await c.get(s.url(...))`).
    std::unique_ptr<std::deque<std::string>> urls = std::make_unique<std::deque<std::string>>();

    [[nodiscard]] std::string_view url(std::string_view path) const {
        urls->push_back("http://127.0.0.1:" + std::to_string(port) + std::string(path));
        return urls->back();
    }
    [[nodiscard]] std::string origin() const { return "http://127.0.0.1:" + std::to_string(port); }
    canned* operator->() const { return state.get(); }
};

task<test_server> start_canned(canned::respond_fn respond) {
    auto state = std::make_shared<canned>();
    state->respond = respond;
    // Named first: no std::function or std::string temporary inside the co_await (g++ 12).
    const corio::connection_handler handler = [state](stream_reader r, stream_writer w) {
        return serve_connection(state, std::move(r), std::move(w));
    };
    const std::string host = "127.0.0.1";
    auto starting = corio::start_server(handler, host, 0);
    auto srv = std::make_shared<corio::server>(co_await std::move(starting));
    const std::uint16_t port = srv->endpoints().at(0).port();
    live_servers().push_back(srv);
    co_return test_server{state, std::move(srv), port};
}

/// A server answering with canned replies in turn (set s->replies before the first request).
task<test_server> start_replying() {
    return start_canned(reply_in_turn);
}

std::string ok_response(const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// Waits until the server has seen `n` connections close.
task<void> until_closed(const test_server& s, std::size_t n) {
    while (s->closed < n) {
        s->connection_closed.clear();
        co_await s->connection_closed.wait();
    }
}

// ------------------------------------------------------------------------------- bodies ---

TEST(Client, GetsAContentLengthBodyAndSendsTheDefaultHeaders) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Twice: a\r\nX-Twice: b\r\n"
                      "Content-Length: 5\r\n\r\nhello"};
        http::client c;
        http::client_response r = co_await c.get(s.url("/x?y=1"));
        EXPECT_EQ(r.status(), 200);
        EXPECT_EQ(r.reason(), "OK");
        EXPECT_EQ(r.version_minor(), 1);
        EXPECT_TRUE(r.ok());
        EXPECT_EQ(r.body(), "hello");
        EXPECT_TRUE(r.body_complete());
        EXPECT_EQ(r.headers().get("content-type").value_or(""), "text/plain");
        EXPECT_EQ(r.headers().get_all("X-Twice").size(), 2u);
        EXPECT_EQ(r.url().str(), s.url("/x?y=1"));
        EXPECT_EQ(r.redirects(), 0);
        const std::string& rq = s->requests.at(0);
        EXPECT_EQ(request_line(rq), "GET /x?y=1");
        EXPECT_EQ(header_of(rq, "Host"), "127.0.0.1:" + std::to_string(s.port));
        EXPECT_EQ(header_of(rq, "User-Agent"), "corio/0.1");
        EXPECT_EQ(header_of(rq, "Accept-Encoding"), "identity");
        EXPECT_EQ(header_of(rq, "Connection"), "keep-alive");
        EXPECT_EQ(header_of(rq, "Content-Length"), "");
    }());
}

TEST(Client, PostsABodyWithContentLengthAndContentType) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response("done")};
        http::client c;
        http::client_response r =
            co_await c.post(s.url("/submit"), "a=1&b=2", "application/x-www-form-urlencoded");
        EXPECT_EQ(r.body(), "done");
        const std::string& rq = s->requests.at(0);
        EXPECT_EQ(request_line(rq), "POST /submit");
        EXPECT_EQ(header_of(rq, "Content-Length"), "7");
        EXPECT_EQ(header_of(rq, "Content-Type"), "application/x-www-form-urlencoded");
        EXPECT_EQ(body_of(rq), "a=1&b=2");
    }());
}

TEST(Client, RequestHeadersReplaceTheClientsDefaults) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response("")};
        http::client_options co;
        co.headers.add("X-Client", "1");
        co.headers.add("X-Both", "client");
        http::client c(co);
        http::request_options o;
        o.headers.add("User-Agent", "test/2");
        o.headers.add("X-Both", "request");
        http::client_response r = co_await c.get(s.url("/"), o);
        EXPECT_EQ(r.status(), 200);
        const std::string& rq = s->requests.at(0);
        EXPECT_EQ(header_of(rq, "User-Agent"), "test/2");
        EXPECT_EQ(header_of(rq, "X-Client"), "1");
        EXPECT_EQ(header_of(rq, "X-Both"), "request");
        EXPECT_EQ(rq.find("client\r\n"), std::string::npos);
    }());
}

TEST(Client, RefusesHeadersThatWouldInjectLines) {
    run_test([]() -> task<void> {
        http::client c;
        http::request_options o;
        o.headers.add("X-Evil", "a\r\nInjected: yes");
        EXPECT_THROW(co_await c.get("http://127.0.0.1:1/", o), std::invalid_argument);
        http::request_options o2;
        o2.headers.add("Content-Length", "5");
        EXPECT_THROW(co_await c.get("http://127.0.0.1:1/", o2), std::invalid_argument);
        EXPECT_THROW(co_await c.request("GE T", "http://127.0.0.1:1/"), std::invalid_argument);
        EXPECT_THROW(co_await c.get("http:///nohost"), std::invalid_argument);
    }());
}

/// Writes a chunked body in pieces cut inside sizes, CRLFs and trailers, with pauses between.
task<bool> awkward_chunks(canned&, std::size_t, const std::string&, stream_writer& w) {
    const std::vector<std::string> pieces = {
        "HTTP/1.1 200 OK\r\nTransfer-",
        "Encoding: chunked\r\n\r\n",
        "5",
        "\r\nhel",
        "lo\r",
        "\n1",
        "0;ext=1\r\n0123456789",
        "abcdef\r\n0\r\nX-Trailer: ",
        "yes\r\n",
        "\r\n",
    };
    for (const auto& p : pieces) {
        co_await w.write(p);
        co_await corio::sleep(1ms);
    }
    co_return true;
}

TEST(Client, ReadsAChunkedBodyWithTrailersSplitAtAwkwardPlaces) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(awkward_chunks);
        http::client c;
        http::client_response r = co_await c.get(s.url("/chunked"));
        EXPECT_EQ(r.status(), 200);
        EXPECT_EQ(r.body(), "hello0123456789abcdef");
        EXPECT_FALSE(r.headers().contains("X-Trailer"));
        // The trailers were consumed: the connection is clean and goes back to the pool.
        EXPECT_EQ(c.idle_connections(s.origin()), 1u);
        http::client_response again = co_await c.get(s.url("/chunked"));
        EXPECT_EQ(again.body(), "hello0123456789abcdef");
        EXPECT_EQ(s->accepted, 1u);
    }());
}

task<bool> until_close_body(canned&, std::size_t, const std::string&, stream_writer& w) {
    co_await w.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ");
    co_await corio::sleep(1ms);
    co_await w.write("second part");
    co_return false;
}

TEST(Client, ReadsABodyThatEndsWithTheConnection) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(until_close_body);
        http::client c;
        http::client_response r = co_await c.get(s.url("/"));
        EXPECT_EQ(r.body(), "first part, second part");
        EXPECT_EQ(c.open_connections(s.origin()), 0u);
        EXPECT_EQ(c.idle_connections(s.origin()), 0u);
    }());
}

TEST(Client, AHeadResponseHasNoBodyAndTheConnectionIsReused) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", ok_response("after head")};
        http::client c;
        http::client_response h = co_await c.head(s.url("/"));
        EXPECT_EQ(h.status(), 200);
        EXPECT_EQ(h.body(), "");
        EXPECT_EQ(h.headers().get("Content-Length").value_or(""), "1000");
        http::client_response g = co_await c.get(s.url("/"));
        EXPECT_EQ(g.body(), "after head");
        EXPECT_EQ(s->accepted, 1u);
        EXPECT_EQ(request_line(s->requests.at(0)), "HEAD /");
    }());
}

TEST(Client, NoContentAndNotModifiedHaveNoBody) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {"HTTP/1.1 204 No Content\r\n\r\n",
                      "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", ok_response("third")};
        http::client c;
        http::client_response a = co_await c.get(s.url("/"));
        EXPECT_EQ(a.status(), 204);
        EXPECT_EQ(a.body(), "");
        http::client_response b = co_await c.get(s.url("/"));
        EXPECT_EQ(b.status(), 304);
        EXPECT_EQ(b.body(), "");
        http::client_response d = co_await c.get(s.url("/"));
        EXPECT_EQ(d.body(), "third");
        EXPECT_EQ(s->accepted, 1u);
    }());
}

TEST(Client, SkipsInterimResponses) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" +
            ok_response("final")};
        http::client c;
        http::client_response r = co_await c.get(s.url("/"));
        EXPECT_EQ(r.status(), 200);
        EXPECT_EQ(r.body(), "final");
        EXPECT_FALSE(r.headers().contains("Link"));
    }());
}

TEST(Client, NonSuccessStatusesAreNotErrorsUntilRaiseForStatus) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"};
        http::client c;
        http::client_response r = co_await c.get(s.url("/missing"));
        EXPECT_EQ(r.status(), 404);
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.body(), "nope");
        try {
            r.raise_for_status();
            ADD_FAILURE() << "raise_for_status did not throw";
        } catch (const http::status_error& e) {
            EXPECT_EQ(e.status(), 404);
            EXPECT_EQ(e.url(), s.url("/missing"));
            EXPECT_EQ(std::string(e.what()),
                      "corio::http: 404 Not Found for " + std::string(s.url("/missing")));
        }
    }());
}

TEST(Client, ABodyOverMaxBodyIsAnError) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response(std::string(2000, 'x'))};
        http::client c;
        http::request_options o;
        o.max_body = 1000;
        try {
            (void)co_await c.get(s.url("/"), o);
            ADD_FAILURE() << "no error";
        } catch (const http::parse_error& e) {
            EXPECT_EQ(e.status(), 413);
        }
        EXPECT_EQ(c.open_connections(s.origin()), 0u);
    }());
}

// ----------------------------------------------------------------- pooling and keep-alive ---

TEST(Client, SequentialRequestsReuseOneConnection) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response("same")};
        http::client c;
        for (int i = 0; i < 5; ++i) {
            const std::string path = "/" + std::to_string(i);
            http::client_response r = co_await c.get(s.url(path));
            EXPECT_EQ(r.body(), "same");
        }
        EXPECT_EQ(s->accepted, 1u);
        EXPECT_EQ(s->requests.size(), 5u);
        EXPECT_EQ(c.open_connections(s.origin()), 1u);
        EXPECT_EQ(c.idle_connections(s.origin()), 1u);
    }());
}

TEST(Client, ConnectionCloseFromTheServerIsNotPooled) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"};
        http::client c;
        for (int i = 0; i < 3; ++i) {
            http::client_response r = co_await c.get(s.url("/"));
            EXPECT_EQ(r.body(), "ok");
        }
        EXPECT_EQ(s->accepted, 3u);
        EXPECT_EQ(c.open_connections(s.origin()), 0u);
    }());
}

task<bool> slow_reply(canned&, std::size_t i, const std::string&, stream_writer& w) {
    co_await corio::sleep(10ms);
    const std::string reply = ok_response("r" + std::to_string(i));
    co_await w.write(reply);
    co_return true;
}

task<std::string> get_body(http::client& c, std::string_view url) {
    http::client_response r = co_await c.get(url);
    co_return r.body();
}

TEST(Client, ThePerHostLimitQueuesRequestsBeyondIt) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(slow_reply);
        http::client_options co;
        co.max_connections_per_host = 4;
        http::client c(co);
        std::vector<corio::task_handle<std::string>> tasks;
        for (int i = 0; i < 20; ++i)
            tasks.push_back(corio::create_task(get_body(c, s.url("/"))));
        std::size_t ok = 0;
        for (auto& t : tasks)
            ok += (co_await t).starts_with("r") ? 1 : 0;
        EXPECT_EQ(ok, 20u);
        EXPECT_EQ(s->max_open, 4u);
        EXPECT_EQ(s->accepted, 4u);
        EXPECT_EQ(s->requests.size(), 20u);
        EXPECT_EQ(c.open_connections(s.origin()), 4u);
    }());
}

TEST(Client, IdleConnectionsCloseAfterTheIdleTimeout) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response("x")};
        http::client_options co;
        co.idle_timeout = 2s;
        http::client c(co);
        (void)co_await c.get(s.url("/"));
        EXPECT_EQ(c.idle_connections(s.origin()), 1u);
        co_await corio::sleep(1s);
        EXPECT_EQ(c.idle_connections(s.origin()), 1u);
        co_await corio::sleep(1500ms);
        EXPECT_EQ(c.idle_connections(s.origin()), 0u);
        EXPECT_EQ(c.open_connections(s.origin()), 0u);
        co_await until_closed(s, 1);
        (void)co_await c.get(s.url("/"));
        EXPECT_EQ(s->accepted, 2u);
    }());
}

/// Answers every request, then closes the connection without saying so (a server whose
/// keep-alive timeout is shorter than the client's).
task<bool> answer_then_close(canned&, std::size_t i, const std::string&, stream_writer& w) {
    const std::string reply = ok_response("r" + std::to_string(i));
    co_await w.write(reply);
    co_return false;
}

TEST(Client, APooledConnectionTheServerClosedIsNotReused) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(answer_then_close);
        http::client c;
        EXPECT_EQ((co_await c.get(s.url("/"))).body(), "r0");
        co_await until_closed(s, 1);
        EXPECT_EQ((co_await c.get(s.url("/"))).body(), "r1");
        // The closed connection was noticed before a request went on it.
        EXPECT_EQ(s->requests.size(), 2u);
        EXPECT_EQ(s->accepted, 2u);
    }());
}

/// Answers the first request of a connection; reads the second and closes without answering
/// (the server's idle close racing the client's request).
task<bool> drop_second_request(canned& c, std::size_t, const std::string&, stream_writer& w) {
    // requests.size() counts every request; odd ones are the second on their connection only
    // for the first connection, which is all this test needs.
    if (c.requests.size() == 2)
        co_return false;
    const std::string reply = ok_response("r" + std::to_string(c.requests.size()));
    co_await w.write(reply);
    co_return true;
}

TEST(Client, AnIdempotentRequestOnAStaleConnectionIsRetriedOnce) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(drop_second_request);
        http::client c;
        EXPECT_EQ((co_await c.get(s.url("/a"))).body(), "r1");
        http::client_response r = co_await c.get(s.url("/b"));
        EXPECT_EQ(r.status(), 200);
        EXPECT_EQ(r.body(), "r3");
        EXPECT_EQ(s->accepted, 2u);
        EXPECT_EQ(s->requests.size(), 3u);
        EXPECT_EQ(request_line(s->requests.at(1)), "GET /b");
        EXPECT_EQ(request_line(s->requests.at(2)), "GET /b");
    }());
}

TEST(Client, APostOnAStaleConnectionIsNotRetried) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(drop_second_request);
        http::client c;
        EXPECT_EQ((co_await c.get(s.url("/a"))).body(), "r1");
        try {
            (void)co_await c.post(s.url("/b"), "payload");
            ADD_FAILURE() << "no error";
        } catch (const http::parse_error& e) {
            EXPECT_EQ(e.status(), 502);
            EXPECT_NE(std::string(e.what()).find("without sending a response"), std::string::npos);
        }
        EXPECT_EQ(s->accepted, 1u);
        EXPECT_EQ(s->requests.size(), 2u);
    }());
}

TEST(Client, ConnectingToAClosedPortIsASystemError) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response("")};
        const std::string url(s.url("/"));
        s.srv->close();
        co_await s.srv->wait_closed();
        http::client c;
        EXPECT_THROW((void)co_await c.get(url), std::system_error);
    }());
}

TEST(Client, HttpsRequestsVerifyTheServerAndReuseOneConnection) {
    run_test([]() -> task<void> {
        auto state = std::make_shared<canned>();
        state->respond = reply_in_turn;
        state->replies = {ok_response("secret")};
        const corio::connection_handler handler = [state](stream_reader r, stream_writer w) {
            return serve_connection(state, std::move(r), std::move(w));
        };
        const std::string host = "127.0.0.1";
        const corio::tls::context server_ctx = corio::tls::context::server_from_pem(
            corio::test::pki().server.cert, corio::test::pki().server.key);
        auto starting = corio::tls::start_server(handler, host, 0, server_ctx);
        auto srv = std::make_shared<corio::server>(co_await std::move(starting));
        live_servers().push_back(srv);
        const std::string base =
            "https://127.0.0.1:" + std::to_string(srv->endpoints().at(0).port()) + "/";

        http::client_options co;
        co.tls = corio::tls::context::client();
        co.tls.load_verify_pem(corio::test::pki().ca.cert);
        http::client c(co);
        for (int i = 0; i < 3; ++i) {
            http::client_response r = co_await c.get(base);
            EXPECT_EQ(r.status(), 200);
            EXPECT_EQ(r.body(), "secret");
        }
        EXPECT_EQ(state->accepted, 1u);

        // The test CA is not in the system store, so a default client refuses the server.
        http::client system_only;
        EXPECT_THROW((void)co_await system_only.get(base), corio::tls::tls_error);
    }());
}

// ---------------------------------------------------------------------------- redirects ---

/// Routes by path: /to/<status>/<location> redirects, /loop redirects to itself, anything else
/// answers 200 with the method and body it got.
task<bool> redirector(canned&, std::size_t, const std::string& request, stream_writer& w) {
    const std::string line = request_line(request);
    const std::string method = line.substr(0, line.find(' '));
    const std::string target = line.substr(line.find(' ') + 1);
    if (target.starts_with("/to/")) {
        const std::string status = target.substr(4, 3);
        const std::string location = target.substr(8);
        const std::string reply = "HTTP/1.1 " + status + " Moved\r\nLocation: " + location +
                                  "\r\nContent-Length: 9\r\n\r\nredirect!";
        co_await w.write(reply);
    } else if (target == "/rel/a/b") {
        co_await w.write("HTTP/1.1 302 Found\r\nLocation: ../c/d?q=1\r\nContent-Length: 0\r\n\r\n");
    } else if (target == "/loop") {
        co_await w.write("HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n");
    } else if (target == "/bad-location") {
        co_await w.write("HTTP/1.1 302 Found\r\nLocation: ftp://x/\r\nContent-Length: 0\r\n\r\n");
    } else {
        const std::string got = method + " " + body_of(request) +
                                " auth=" + header_of(request, "Authorization") +
                                " type=" + header_of(request, "Content-Type");
        const std::string reply =
            method == "HEAD" ? "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" : ok_response(got);
        co_await w.write(reply);
    }
    co_return true;
}

TEST(Client, RedirectsFollowTheMethodRulesOfEachStatus) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(redirector);
        http::client c;
        const std::pair<const char*, const char*> cases[] = {
            {"301", "GET  auth= type="},
            {"302", "GET  auth= type="},
            {"303", "GET  auth= type="},
            {"307", "POST data auth= type=text/plain"},
            {"308", "POST data auth= type=text/plain"},
        };
        for (const auto& [status, want] : cases) {
            SCOPED_TRACE(status);
            const std::string path = "/to/" + std::string(status) + "//final";
            http::client_response r = co_await c.post(s.url(path), "data", "text/plain");
            EXPECT_EQ(r.status(), 200);
            EXPECT_EQ(r.body(), want);
            EXPECT_EQ(r.url().str(), s.url("/final"));
            EXPECT_EQ(r.redirects(), 1);
        }
        // The small redirect bodies were read and dropped: one connection did everything.
        EXPECT_EQ(s->accepted, 1u);
    }());
}

TEST(Client, AHeadRequestStaysHeadAcrossA303) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(redirector);
        http::client c;
        http::client_response r = co_await c.head(s.url("/to/303//final"));
        EXPECT_EQ(r.status(), 200);
        EXPECT_EQ(request_line(s->requests.at(1)), "HEAD /final");
    }());
}

TEST(Client, RelativeLocationsResolveAgainstTheRequestUrl) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(redirector);
        http::client c;
        http::client_response r = co_await c.get(s.url("/rel/a/b"));
        EXPECT_EQ(r.status(), 200);
        EXPECT_EQ(r.url().str(), s.url("/rel/c/d?q=1"));
        EXPECT_EQ(request_line(s->requests.at(1)), "GET /rel/c/d?q=1");
    }());
}

TEST(Client, ARedirectLoopFailsAfterMaxRedirects) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(redirector);
        http::client c;
        try {
            (void)co_await c.get(s.url("/loop"));
            ADD_FAILURE() << "no error";
        } catch (const http::redirect_error& e) {
            EXPECT_NE(std::string(e.what()).find("more than 10 redirects"), std::string::npos)
                << e.what();
            EXPECT_EQ(e.url(), s.url("/loop"));
        }
        EXPECT_EQ(s->requests.size(), 11u);
        http::request_options o;
        o.max_redirects = 2;
        EXPECT_THROW((void)co_await c.get(s.url("/loop"), o), http::redirect_error);
        EXPECT_EQ(s->requests.size(), 14u);
    }());
}

TEST(Client, RedirectsAreNotFollowedWhenTurnedOff) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(redirector);
        http::client c;
        http::request_options o;
        o.follow_redirects = false;
        http::client_response r = co_await c.get(s.url("/to/302/final"), o);
        EXPECT_EQ(r.status(), 302);
        EXPECT_EQ(r.headers().get("Location").value_or(""), "final");
        EXPECT_EQ(r.body(), "redirect!");
    }());
}

TEST(Client, ABadLocationIsARedirectError) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(redirector);
        http::client c;
        EXPECT_THROW((void)co_await c.get(s.url("/bad-location")), http::redirect_error);
    }());
}

TEST(Client, AuthorizationIsDroppedOnlyWhenTheRedirectLeavesTheOrigin) {
    run_test([]() -> task<void> {
        test_server a = co_await start_canned(redirector);
        test_server b = co_await start_canned(redirector);
        http::client c;
        http::request_options o;
        o.headers.add("Authorization", "Bearer secret");
        const std::string to_a = "/to/307/" + std::string(a.url("/x"));
        const std::string to_b = "/to/307/" + std::string(b.url("/x"));
        http::client_response same = co_await c.get(a.url(to_a), o);
        EXPECT_EQ(same.body(), "GET  auth=Bearer secret type=");
        http::client_response other = co_await c.get(a.url(to_b), o);
        EXPECT_EQ(other.body(), "GET  auth= type=");
        EXPECT_EQ(other.url().str(), b.url("/x"));
    }());
}

// ----------------------------------------------------------------------------- timeouts ---

task<bool> never_answer(canned&, std::size_t, const std::string&, stream_writer&) {
    co_await corio::sleep(std::chrono::hours(1));
    co_return false;
}

TEST(Client, TheTotalTimeoutEndsARequestThatGetsNoAnswer) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(never_answer);
        http::client c;
        http::request_options o;
        o.timeout = 5s;
        corio::scheduler& sched = *corio::scheduler::current();
        const auto start = sched.time();
        EXPECT_THROW((void)co_await c.get(s.url("/"), o), corio::timeout_error);
        EXPECT_EQ(sched.time() - start, 5s);
        EXPECT_EQ(c.open_connections(s.origin()), 0u);
        co_await until_closed(s, 1);
    }());
}

task<void> no_handler(stream_reader, stream_writer) {
    co_return;
}

TEST(Client, TheConnectTimeoutEndsAConnectionThatIsNeverAccepted) {
    run_test([]() -> task<void> {
        // A listener that never accepts, with a backlog of 0: once its queue is full, the kernel
        // drops further SYNs and connect() hangs.
        corio::server_options so;
        so.backlog = 0;
        so.start_serving = false;
        const corio::connection_handler handler = no_handler;
        const std::string host = "127.0.0.1";
        auto starting = corio::start_server(handler, host, 0, so);
        corio::server srv = co_await std::move(starting);
        const std::uint16_t port = srv.endpoints().at(0).port();
        std::vector<corio::streams> queued;
        for (int i = 0; i < 4; ++i) {
            auto connecting = corio::open_connection(host, port);
            try {
                queued.push_back(co_await corio::timeout(100ms, std::move(connecting)));
            } catch (const corio::timeout_error&) {
                break; // the queue is full
            }
        }
        EXPECT_LT(queued.size(), 4u);
        http::client_options co;
        co.connect_timeout = 2s;
        http::client c(co);
        corio::scheduler& sched = *corio::scheduler::current();
        const auto start = sched.time();
        const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
        EXPECT_THROW((void)co_await c.get(url), corio::timeout_error);
        EXPECT_EQ(sched.time() - start, 2s);
        EXPECT_EQ(c.open_connections("http://127.0.0.1:" + std::to_string(port)), 0u);
    }());
}

TEST(Client, TheClientTimeoutAppliesWhenTheRequestSetsNone) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(never_answer);
        http::client_options co;
        co.timeout = 30s;
        http::client c(co);
        corio::scheduler& sched = *corio::scheduler::current();
        const auto start = sched.time();
        EXPECT_THROW((void)co_await c.get(s.url("/")), corio::timeout_error);
        EXPECT_EQ(sched.time() - start, 30s);
    }());
}

task<bool> head_then_stall(canned&, std::size_t, const std::string&, stream_writer& w) {
    co_await w.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    co_await corio::sleep(std::chrono::hours(1));
    co_return false;
}

TEST(Client, AStreamedBodyKeepsToTheRequestsDeadline) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(head_then_stall);
        http::client c;
        http::request_options o;
        o.timeout = 10s;
        corio::scheduler& sched = *corio::scheduler::current();
        const auto start = sched.time();
        http::client_response r = co_await c.stream("GET", s.url("/"), o);
        EXPECT_EQ(co_await r.read_some(), "partial");
        EXPECT_THROW((void)co_await r.read_some(), corio::timeout_error);
        EXPECT_EQ(sched.time() - start, 10s);
        EXPECT_THROW((void)co_await r.read_some(), std::logic_error);
        EXPECT_EQ(c.open_connections(s.origin()), 0u);
    }());
}

// ---------------------------------------------------------------------------- streaming ---

constexpr std::size_t big_size = 20 * 1024 * 1024;

/// The byte at `offset` of the big body: a pattern that catches reordering and loss.
char big_byte(std::size_t offset) {
    return static_cast<char>('a' + (offset * 7 + offset / 4096) % 26);
}

task<bool> big_body(canned&, std::size_t, const std::string&, stream_writer& w) {
    const std::string head =
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big_size) + "\r\n\r\n";
    co_await w.write(head);
    std::string block(64 * 1024, '\0');
    for (std::size_t at = 0; at < big_size; at += block.size()) {
        for (std::size_t i = 0; i < block.size(); ++i)
            block[i] = big_byte(at + i);
        co_await w.write(block);
    }
    co_return true;
}

TEST(Client, StreamsA20MegabyteBodyInPiecesWithoutHoldingItAll) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(big_body);
        http::client c;
        http::client_response r = co_await c.stream("GET", s.url("/big"));
        EXPECT_EQ(r.status(), 200);
        EXPECT_FALSE(r.body_complete());
        std::size_t total = 0;
        std::size_t largest = 0;
        std::size_t pieces = 0;
        bool intact = true;
        for (;;) {
            const std::string_view piece = co_await r.read_some();
            if (piece.empty())
                break;
            for (std::size_t i = 0; i < piece.size() && intact; ++i)
                intact = piece[i] == big_byte(total + i);
            total += piece.size();
            largest = std::max(largest, piece.size());
            ++pieces;
        }
        EXPECT_TRUE(intact);
        EXPECT_EQ(total, big_size);
        EXPECT_LE(largest, c.options().buffer_size);
        EXPECT_GT(pieces, 100u);
        EXPECT_EQ(r.body(), "");
        EXPECT_TRUE(r.body_complete());
        EXPECT_EQ(c.idle_connections(s.origin()), 1u);
    }());
}

TEST(Client, ReadChunkAndReadAllShareTheStream) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response("0123456789abcdef")};
        http::client c;
        http::client_response r = co_await c.stream("GET", s.url("/"));
        EXPECT_EQ(co_await r.read_chunk(4), "0123");
        EXPECT_EQ(co_await r.read_chunk(3), "456");
        const std::string& rest = co_await r.read_all();
        EXPECT_EQ(rest, "789abcdef");
        EXPECT_EQ(co_await r.read_some(), "");
        EXPECT_EQ(c.idle_connections(s.origin()), 1u);
    }());
}

TEST(Client, ReadChunkSplitsTheDecodedPiecesOfAChunkedBody) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(awkward_chunks);
        http::client c;
        http::client_response r = co_await c.stream("GET", s.url("/"));
        std::string all;
        std::size_t largest = 0;
        for (;;) {
            const std::string piece = co_await r.read_chunk(3);
            if (piece.empty())
                break;
            largest = std::max(largest, piece.size());
            all += piece;
        }
        EXPECT_EQ(all, "hello0123456789abcdef");
        EXPECT_EQ(largest, 3u);
        EXPECT_TRUE(r.body_complete());
        EXPECT_EQ(c.idle_connections(s.origin()), 1u);
    }());
}

TEST(Client, AStreamedResponseDroppedEarlyClosesItsConnection) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response(std::string(1 << 20, 'x'))};
        http::client c;
        {
            http::client_response r = co_await c.stream("GET", s.url("/"));
            EXPECT_EQ((co_await r.read_chunk(10)).size(), 10u);
        }
        EXPECT_EQ(c.open_connections(s.origin()), 0u);
        co_await until_closed(s, 1);
        http::client_response again = co_await c.get(s.url("/"));
        EXPECT_EQ(again.body().size(), std::size_t{1} << 20);
        EXPECT_EQ(s->accepted, 2u);
    }());
}

TEST(Client, AResponseMayOutliveItsClient) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response("later")};
        http::client_response r;
        {
            http::client c;
            r = co_await c.stream("GET", s.url("/"));
        }
        EXPECT_EQ(co_await r.read_all(), "later");
        co_await until_closed(s, 1);
    }());
}

// ------------------------------------------------------------------------ bad responses ---

TEST(Client, AMalformedResponseIsAParseError) {
    const char* replies[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
        "SMTP ready\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (const char* reply : replies) {
        SCOPED_TRACE(reply);
        run_test([](std::string reply) -> task<void> {
            test_server s = co_await start_replying();
            s->replies = {reply};
            http::client c;
            EXPECT_THROW((void)co_await c.get(s.url("/")), http::parse_error);
            EXPECT_EQ(c.open_connections(s.origin()), 0u);
        }(reply));
    }
}

task<bool> short_body(canned&, std::size_t, const std::string&, stream_writer& w) {
    co_await w.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    co_return false;
}

TEST(Client, ABodyCutShortIsAParseError) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(short_body);
        http::client c;
        try {
            (void)co_await c.get(s.url("/"));
            ADD_FAILURE() << "no error";
        } catch (const http::parse_error& e) {
            EXPECT_EQ(e.status(), 502);
            EXPECT_NE(std::string(e.what()).find("7 bytes of the body missing"), std::string::npos)
                << e.what();
        }
    }());
}

// ------------------------------------------------------------------------- cancellation ---

TEST(Client, CancellingARequestClosesItsConnectionAndLeaksNoFd) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(head_then_stall);
        const std::size_t fds_before = corio::test::open_fd_count();
        http::client c;
        auto t = corio::create_task(c.get(s.url("/")));
        while (s->requests.empty())
            co_await corio::sleep(1ms);
        co_await corio::sleep(1ms);
        t.cancel();
        EXPECT_THROW(co_await t, corio::cancelled_error);
        EXPECT_EQ(c.open_connections(s.origin()), 0u);
        co_await until_closed(s, 1);
        EXPECT_EQ(corio::test::open_fd_count(), fds_before);
    }());
}

/// Reads until the end of the body (which never comes here) or a cancellation.
task<std::size_t> read_until_cancelled(http::client_response& r) {
    std::size_t n = 0;
    for (;;) {
        const std::string_view piece = co_await r.read_some();
        if (piece.empty())
            co_return n;
        n += piece.size();
    }
}

TEST(Client, CancellingAStreamedReadClosesTheConnection) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(head_then_stall);
        const std::size_t fds_before = corio::test::open_fd_count();
        {
            http::client c;
            http::client_response r = co_await c.stream("GET", s.url("/"));
            auto t = corio::create_task(read_until_cancelled(r));
            co_await corio::sleep(1ms);
            t.cancel();
            EXPECT_THROW((void)co_await t, corio::cancelled_error);
            EXPECT_EQ(c.open_connections(s.origin()), 0u);
            EXPECT_THROW((void)co_await r.read_some(), std::logic_error);
        }
        co_await until_closed(s, 1);
        EXPECT_EQ(corio::test::open_fd_count(), fds_before);
    }());
}

TEST(Client, ARequestWaitingForAPoolSlotCanBeCancelled) {
    run_test([]() -> task<void> {
        test_server s = co_await start_canned(slow_reply);
        http::client_options co;
        co.max_connections_per_host = 1;
        http::client c(co);
        auto first = corio::create_task(get_body(c, s.url("/")));
        auto second = corio::create_task(get_body(c, s.url("/")));
        auto third = corio::create_task(get_body(c, s.url("/")));
        co_await corio::sleep(1ms);
        second.cancel();
        EXPECT_EQ(co_await first, "r0");
        EXPECT_THROW((void)co_await second, corio::cancelled_error);
        EXPECT_EQ(co_await third, "r1");
        EXPECT_EQ(s->accepted, 1u);
    }());
}

// ------------------------------------------------------------------ one-shot functions ---

TEST(Client, TheOneShotFunctionsUseAFreshConnectionEachTime) {
    run_test([]() -> task<void> {
        test_server s = co_await start_replying();
        s->replies = {ok_response("one-shot")};
        http::client_response a = co_await http::get(s.url("/a"));
        EXPECT_EQ(a.body(), "one-shot");
        http::client_response b = co_await http::post(s.url("/b"), "x", "text/plain");
        EXPECT_EQ(b.body(), "one-shot");
        http::client_response d = co_await http::fetch("DELETE", s.url("/d"));
        EXPECT_EQ(d.status(), 200);
        EXPECT_EQ(request_line(s->requests.at(2)), "DELETE /d");
        co_await until_closed(s, 3);
        EXPECT_EQ(s->accepted, 3u);
    }());
}

} // namespace

// start_server / start_unix_server: serving, closing, client management, handler failures,
// slow readers, and the accept back-off when file descriptors run out.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/gather.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/io/server.hpp"
#include "corio/net/connect_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "io/io_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::open_connection;
using corio::server;
using corio::start_server;
using corio::stream_reader;
using corio::stream_writer;
using corio::streams;
using corio::task;
using corio::test::run_virtual;
using corio::test::settle;
using std::chrono::milliseconds;

/// Echoes lines until the end of the stream.
task<void> echo_lines(stream_reader r, stream_writer w) {
    while (auto line = co_await r.next_line())
        co_await w.write(*line);
}

std::uint16_t port_of(const server& s) {
    return s.endpoints().at(0).port();
}

task<streams> connect_to(const server& s) {
    co_return co_await open_connection("127.0.0.1", port_of(s));
}

/// Sends `line` and returns the echo.
task<std::string> round_trip(streams& c, std::string line) {
    co_await c.writer.write(line);
    co_return co_await c.reader.readline();
}

TEST(Server, ServesSeveralClientsAtOnce) {
    auto got = run_virtual([]() -> task<std::vector<std::string>> {
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
        std::vector<streams> clients;
        for (int i = 0; i < 3; ++i)
            clients.push_back(co_await connect_to(srv));
        std::vector<std::string> out;
        for (int round = 0; round < 2; ++round)
            for (std::size_t i = 0; i < clients.size(); ++i)
                out.push_back(co_await round_trip(clients[i], "c" + std::to_string(i) + "\n"));
        EXPECT_EQ(srv.client_count(), 3u);
        EXPECT_EQ(srv.handler_count(), 3u);
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"c0\n", "c1\n", "c2\n", "c0\n", "c1\n", "c2\n"}));
}

TEST(Server, AnEmptyHostListensOnEveryInterface) {
    auto got = run_virtual([]() -> task<std::string> {
        server srv = co_await start_server(echo_lines, "", 0);
        bool any_v4 = false;
        std::uint16_t port = 0;
        for (const corio::net::endpoint& e : srv.endpoints())
            if (e.is_v4() && e.address().is_any()) {
                any_v4 = true;
                port = e.port();
            }
        EXPECT_TRUE(any_v4);
        EXPECT_EQ(srv.sockets().size(), srv.endpoints().size());
        streams c = co_await open_connection("127.0.0.1", port);
        co_return co_await round_trip(c, "everywhere\n");
    }());
    EXPECT_EQ(got, "everywhere\n");
}

TEST(Server, CloseStopsListeningWhileTheConnectionsGoOn) {
    struct result {
        bool serving = true;
        std::size_t sockets = 1;
        bool refused = false;
        std::string echo;
    };
    auto r = run_virtual([]() -> task<result> {
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
        const std::uint16_t port = port_of(srv);
        streams c = co_await connect_to(srv);
        srv.close();
        result out;
        out.serving = srv.is_serving();
        out.sockets = srv.sockets().size();
        try {
            (void)co_await open_connection("127.0.0.1", port);
        } catch (const corio::net::connect_error&) {
            out.refused = true;
        }
        out.echo = co_await round_trip(c, "still here\n");
        co_return out;
    }());
    EXPECT_FALSE(r.serving);
    EXPECT_EQ(r.sockets, 0u);
    EXPECT_TRUE(r.refused);
    EXPECT_EQ(r.echo, "still here\n");
}

TEST(Server, WaitClosedWaitsForEveryConnectionAndHandler) {
    struct result {
        bool waited = false;
        bool done_after = false;
    };
    auto r = run_virtual([]() -> task<result> {
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
        streams c = co_await connect_to(srv);
        (void)co_await round_trip(c, "x\n");
        srv.close();
        auto w = corio::create_task(srv.wait_closed());
        co_await settle();
        result out;
        out.waited = !w.done();
        c.writer.close(); // the handler sees the end of the stream and returns
        co_await w;
        out.done_after = srv.client_count() == 0 && srv.handler_count() == 0;
        co_return out;
    }());
    EXPECT_TRUE(r.waited);
    EXPECT_TRUE(r.done_after);
}

TEST(Server, CloseClientsEndsEveryConnectionGracefully) {
    auto got = run_virtual([]() -> task<std::vector<std::string>> {
        // The handler writes a goodbye when its read sees the end of the stream.
        auto handler = [](stream_reader r, stream_writer w) -> task<void> {
            while (auto line = co_await r.next_line())
                co_await w.write(*line);
            co_return;
        };
        server srv = co_await start_server(handler, "127.0.0.1", 0);
        std::vector<streams> clients;
        for (int i = 0; i < 2; ++i) {
            clients.push_back(co_await connect_to(srv));
            (void)co_await round_trip(clients.back(), "hi\n");
        }
        srv.close();
        srv.close_clients();
        std::vector<std::string> out;
        for (streams& c : clients)
            out.push_back(co_await c.reader.read());
        co_await srv.wait_closed();
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"", ""}));
}

TEST(Server, AbortClientsResetsEveryConnection) {
    auto codes = run_virtual([]() -> task<std::vector<int>> {
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
        std::vector<streams> clients;
        for (int i = 0; i < 2; ++i) {
            clients.push_back(co_await connect_to(srv));
            (void)co_await round_trip(clients.back(), "hi\n");
        }
        srv.abort_clients();
        std::vector<int> out;
        for (streams& c : clients) {
            try {
                (void)co_await c.reader.read();
                out.push_back(0);
            } catch (const std::system_error& e) {
                out.push_back(e.code().value());
            }
        }
        co_return out;
    }());
    EXPECT_EQ(codes, (std::vector<int>{ECONNRESET, ECONNRESET}));
}

TEST(Server, AHandlerExceptionIsReportedAndClosesOnlyItsConnection) {
    struct result {
        std::vector<std::string> messages;
        std::string what;
        std::string failed_client;
        std::string other_client;
    };
    result r;
    {
        corio::event_loop loop(corio::test::virtual_clock());
        loop.set_exception_handler([&](corio::scheduler&, const corio::exception_context& c) {
            r.messages.push_back(c.message);
            try {
                if (c.exception)
                    std::rethrow_exception(c.exception);
            } catch (const std::exception& e) {
                r.what = e.what();
            }
        });
        loop.run_until_complete([](result& r) -> task<void> {
            auto handler = [](stream_reader rd, stream_writer w) -> task<void> {
                while (auto line = co_await rd.next_line()) {
                    if (*line == "boom\n")
                        throw std::runtime_error("handler failed");
                    co_await w.write(*line);
                }
            };
            server srv = co_await start_server(handler, "127.0.0.1", 0);
            streams a = co_await connect_to(srv);
            streams b = co_await connect_to(srv);
            co_await a.writer.write("boom\n");
            r.failed_client = co_await a.reader.read(); // the end of the stream
            r.other_client = co_await round_trip(b, "fine\n");
            b.writer.close();
            srv.close();
            co_await srv.wait_closed();
        }(r));
    }
    ASSERT_EQ(r.messages.size(), 1u) << r.messages.at(1);
    EXPECT_NE(r.messages[0].find("exception in a connection handler (peer 127.0.0.1:"),
              std::string::npos)
        << r.messages[0];
    EXPECT_EQ(r.what, "handler failed");
    EXPECT_EQ(r.failed_client, "");
    EXPECT_EQ(r.other_client, "fine\n");
}

TEST(Server, AHandlerThatDropsItsStreamsEarlyIsStillWaitedFor) {
    struct result {
        std::size_t handlers_meanwhile = 0;
        std::size_t clients_meanwhile = 1;
        bool waited = false;
        bool handler_finished = false;
    };
    auto r = run_virtual([]() -> task<result> {
        bool finished = false;
        auto handler = [&finished](stream_reader rd, stream_writer w) -> task<void> {
            {
                stream_reader gone_r = std::move(rd);
                stream_writer gone_w = std::move(w);
                co_await gone_w.write("bye\n");
            } // the connection closes here, while the handler goes on
            co_await corio::sleep(milliseconds(50));
            finished = true;
        };
        server srv = co_await start_server(handler, "127.0.0.1", 0);
        streams c = co_await connect_to(srv);
        EXPECT_EQ(co_await c.reader.read(), "bye\n");
        co_await settle();
        result out;
        out.handlers_meanwhile = srv.handler_count();
        out.clients_meanwhile = srv.client_count();
        srv.close();
        auto w = corio::create_task(srv.wait_closed());
        co_await settle();
        out.waited = !w.done();
        co_await w;
        out.handler_finished = finished;
        co_return out;
    }());
    EXPECT_EQ(r.handlers_meanwhile, 1u);
    EXPECT_EQ(r.clients_meanwhile, 0u);
    EXPECT_TRUE(r.waited);
    EXPECT_TRUE(r.handler_finished);
}

TEST(Server, ServeForeverReturnsWhenAnotherTaskClosesTheServer) {
    auto got = run_virtual([]() -> task<std::string> {
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
        auto forever = corio::create_task(srv.serve_forever());
        streams c = co_await connect_to(srv);
        std::string echo = co_await round_trip(c, "served\n");
        EXPECT_FALSE(forever.done());
        srv.close();
        co_await forever;
        co_return echo;
    }());
    EXPECT_EQ(got, "served\n");
}

TEST(Server, CancellingServeForeverClosesTheServer) {
    struct result {
        bool cancelled = false;
        bool serving = true;
    };
    auto r = run_virtual([]() -> task<result> {
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
        auto forever = corio::create_task(srv.serve_forever());
        co_await settle();
        forever.cancel();
        result out;
        try {
            co_await forever;
        } catch (const corio::cancelled_error&) {
            out.cancelled = true;
        }
        out.serving = srv.is_serving();
        co_return out;
    }());
    EXPECT_TRUE(r.cancelled);
    EXPECT_FALSE(r.serving);
}

TEST(Server, ServeForeverInTwoTasksIsALogicError) {
    auto thrown = run_virtual([]() -> task<bool> {
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
        auto first = corio::create_task(srv.serve_forever());
        co_await settle();
        bool logic = false;
        try {
            co_await srv.serve_forever();
        } catch (const std::logic_error&) {
            logic = true;
        }
        srv.close();
        co_await first;
        co_return logic;
    }());
    EXPECT_TRUE(thrown);
}

TEST(Server, AServerStartedWithoutServingAcceptsOnlyOnceToldTo) {
    struct result {
        bool serving_before = true;
        std::size_t handlers_before = 1;
        std::string echo;
    };
    auto r = run_virtual([]() -> task<result> {
        corio::server_options o;
        o.start_serving = false;
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0, o);
        result out;
        out.serving_before = srv.is_serving();
        streams c = co_await connect_to(srv); // queued by the kernel
        co_await c.writer.write("queued\n");
        co_await settle();
        out.handlers_before = srv.handler_count();
        srv.start_serving();
        out.echo = co_await c.reader.readline();
        co_return out;
    }());
    EXPECT_FALSE(r.serving_before);
    EXPECT_EQ(r.handlers_before, 0u);
    EXPECT_EQ(r.echo, "queued\n");
}

TEST(Server, AClientThatNeverReadsBlocksOnlyItsOwnConnection) {
    struct result {
        std::size_t echoes = 0;
        bool slow_blocked = false;
        std::size_t slow_received = 0;
    };
    constexpr std::size_t total = 16u << 20;
    auto r = run_virtual([]() -> task<result> {
        // Echoes chunks as they come, with backpressure: a peer that does not read stops this
        // handler (in write) and, through it, the reading of that connection only.
        auto handler = [](stream_reader rd, stream_writer w) -> task<void> {
            for (;;) {
                std::string chunk = co_await rd.read(65536);
                if (chunk.empty())
                    break;
                co_await w.write(chunk);
            }
        };
        server srv = co_await start_server(handler, "127.0.0.1", 0);
        streams slow = co_await connect_to(srv);
        auto flood = [](stream_writer w) -> task<void> {
            const std::string block(65536, 's');
            for (std::size_t sent = 0; sent < total; sent += block.size())
                co_await w.write(block);
            w.write_eof();
        };
        auto flooding = corio::create_task(flood(slow.writer));
        co_await settle(20);
        result out;
        out.slow_blocked = !flooding.done();
        streams quick = co_await connect_to(srv);
        for (int i = 0; i < 50; ++i)
            if (co_await round_trip(quick, "ping " + std::to_string(i) + "\n") ==
                "ping " + std::to_string(i) + "\n")
                ++out.echoes;
        // Now the slow client reads everything, and the flood completes.
        for (;;) {
            std::string got = co_await slow.reader.read(1 << 20);
            if (got.empty())
                break;
            out.slow_received += got.size();
        }
        co_await flooding;
        co_return out;
    }());
    EXPECT_TRUE(r.slow_blocked);
    EXPECT_EQ(r.echoes, 50u);
    EXPECT_EQ(r.slow_received, total);
}

TEST(Server, AUnixServerServesOverAPathAndRemovesItsFile) {
    const std::string path = "/tmp/corio-io-test-" + std::to_string(::getpid()) + ".sock";
    auto got = run_virtual([](std::string path) -> task<std::string> {
        const corio::net::unix_endpoint where(path);
        server srv = co_await corio::start_unix_server(echo_lines, where);
        EXPECT_EQ(::access(path.c_str(), F_OK), 0);
        streams c = co_await corio::open_unix_connection(where);
        std::string echo = co_await round_trip(c, "over unix\n");
        c.writer.close();
        srv.close();
        co_await srv.wait_closed();
        co_return echo;
    }(path));
    EXPECT_EQ(got, "over unix\n");
    EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

TEST(Server, NoFdOutlivesTheServerAndItsConnections) {
    const std::size_t before = corio::test::open_fd_count();
    run_virtual([]() -> task<void> {
        server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
        {
            std::vector<streams> clients;
            for (int i = 0; i < 4; ++i) {
                clients.push_back(co_await connect_to(srv));
                (void)co_await round_trip(clients.back(), "x\n");
            }
        }
        srv.close();
        co_await srv.wait_closed();
    }());
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

TEST(Server, UnderIoUringTwoHundredConnectionsAreServedAndNoFdOutlivesTheServer) {
    // io_uring accepts them with one multishot accept per listener; its queue of accepted fds
    // and its withdrawal at close() must leave nothing open.
    corio::loop_options options = corio::test::virtual_clock();
    options.backend = "io_uring";
    const std::size_t before = corio::test::open_fd_count();
    std::size_t served = 0;
    {
        corio::event_loop loop(options);
        if (loop.backend_name() != std::string("io_uring"))
            GTEST_SKIP() << "io_uring is not available here";
        loop.run_until_complete([](std::size_t& served) -> task<void> {
            server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
            std::vector<streams> clients;
            clients.reserve(200);
            for (int i = 0; i < 200; ++i)
                clients.push_back(co_await connect_to(srv));
            for (streams& c : clients) {
                task<std::string> rt = round_trip(c, "ping\n");
                const std::string echo = co_await std::move(rt);
                served += echo == "ping\n" ? 1 : 0;
            }
            // Connections the server has accepted but not served yet, and some still queued
            // on the listener, when it closes.
            std::vector<corio::net::socket> late;
            for (int i = 0; i < 20; ++i) {
                late.push_back(corio::net::socket::open(AF_INET, SOCK_STREAM));
                co_await late.back().connect(srv.endpoints().at(0));
            }
            srv.close();
            clients.clear();
            late.clear();
            co_await srv.wait_closed();
        }(served));
    }
    EXPECT_EQ(served, 200u);
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

// ---------------------------------------------------------------------- accept back-off ---

/// Counts the steps of the accept task (named "corio accept") while installed.
class accept_step_counter final : public corio::task_observer {
  public:
    void on_create(const corio::detail::task_header&) noexcept override {}
    void on_run(const corio::detail::task_header& t) noexcept override {
        if (corio::scheduler::task_name(t) == "corio accept")
            ++steps;
    }
    void on_suspend(const corio::detail::task_header&, const char*) noexcept override {}
    void on_wake(const corio::detail::task_header&) noexcept override {}
    void on_done(const corio::detail::task_header&) noexcept override {}
    int steps = 0;
};

/// Lowers RLIMIT_NOFILE and fills every free fd number below it; restores both when destroyed.
class fd_exhaustion {
  public:
    fd_exhaustion() : m_source(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {
        EXPECT_GE(m_source, 0);
        ::getrlimit(RLIMIT_NOFILE, &m_old);
        int highest = 0;
        for (int fd = 0; fd < 4096; ++fd)
            if (::fcntl(fd, F_GETFD) >= 0)
                highest = fd;
        rlimit low = m_old;
        low.rlim_cur = static_cast<rlim_t>(highest + 8);
        EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
        for (;;) {
            const int fd = ::fcntl(m_source, F_DUPFD_CLOEXEC, 0);
            if (fd < 0) {
                EXPECT_EQ(errno, EMFILE);
                break;
            }
            m_fds.push_back(fd);
        }
    }
    fd_exhaustion(const fd_exhaustion&) = delete;
    fd_exhaustion& operator=(const fd_exhaustion&) = delete;
    ~fd_exhaustion() { release(); }
    void release() {
        for (int fd : m_fds)
            ::close(fd);
        m_fds.clear();
        if (m_source >= 0)
            ::close(m_source);
        m_source = -1;
        ::setrlimit(RLIMIT_NOFILE, &m_old);
    }

  private:
    int m_source;
    rlimit m_old{};
    std::vector<int> m_fds;
};

TEST(Server, OutOfFileDescriptorsTheAcceptLoopBacksOffThenServesTheQueuedClients) {
    struct result {
        int steps_while_exhausted = 0;
        std::size_t reports = 0;
        bool serving = false;
        std::vector<std::string> echoes;
    };
    result r;
    accept_step_counter counter;
    std::vector<std::string> messages;
    {
        corio::event_loop loop(corio::test::virtual_clock());
        loop.set_exception_handler([&](corio::scheduler&, const corio::exception_context& c) {
            messages.push_back(c.message);
        });
        loop.run_until_complete([](result& r, accept_step_counter& counter,
                                   std::vector<std::string>& messages) -> task<void> {
            // The server under test accepts only once the fds are gone; a second one serves
            // the warm-up below.
            corio::server_options paused;
            paused.start_serving = false;
            server srv = co_await start_server(echo_lines, "127.0.0.1", 0, paused);
            server warm_srv = co_await start_server(echo_lines, "127.0.0.1", 0);
            const corio::net::endpoint where = srv.endpoints().at(0);
            corio::scheduler* loop = corio::scheduler::current();
            loop->set_observer(&counter);
            // Warm-up: the paths the exhausted window takes run once before it, so that UBSan's
            // vptr checks, which need a pipe (fds) the first time, are cached by then.
            {
                streams s = co_await connect_to(warm_srv);
                (void)co_await round_trip(s, "warm\n");
            }
            while (warm_srv.client_count() != 0) // its fds are closed
                co_await corio::sleep(milliseconds(1));
            // The clients connect now; the kernel queues them until the server accepts.
            std::vector<corio::net::socket> clients;
            for (int i = 0; i < 3; ++i) {
                clients.push_back(corio::net::socket::open(AF_INET, SOCK_STREAM));
                co_await clients.back().connect(where);
            }
            {
                try {
                    throw std::system_error(EMFILE, std::generic_category(), "warm-up");
                } catch (const std::system_error& e) {
                    EXPECT_TRUE(corio::net::is_accept_exhaustion(e.code()));
                    EXPECT_FALSE(corio::net::is_accept_transient(e.code()));
                }
                fd_exhaustion exhausted;
                const int steps_before = counter.steps;
                const std::size_t reports_before = messages.size();
                srv.start_serving();
                co_await corio::sleep(std::chrono::seconds(5)); // virtual time
                r.steps_while_exhausted = counter.steps - steps_before;
                r.reports = messages.size() - reports_before;
                r.serving = srv.is_serving();
            } // fds free again
            loop->set_observer(nullptr);
            for (corio::net::socket& c : clients) {
                streams s = corio::make_streams(std::move(c));
                r.echoes.push_back(co_await round_trip(s, "after\n"));
            }
            streams late = co_await connect_to(srv);
            r.echoes.push_back(co_await round_trip(late, "late\n"));
            late.writer.close();
            srv.close();
            warm_srv.close();
            co_await srv.wait_closed();
        }(r, counter, messages));
    }
    ASSERT_GE(messages.size(), 1u);
    EXPECT_NE(messages[0].find("accept on 127.0.0.1:"), std::string::npos) << messages[0];
    // 5 s of back-off from 10 ms doubling to 1 s: about a dozen attempts, not a spin. A
    // completion backend (io_uring) takes two loop turns per attempt (the accept's error comes
    // at the next wait), hence the bound of 30.
    EXPECT_GE(r.steps_while_exhausted, 3);
    EXPECT_LE(r.steps_while_exhausted, 30);
    EXPECT_EQ(r.reports, 1u) << messages.back();
    EXPECT_TRUE(r.serving);
    EXPECT_EQ(r.echoes, (std::vector<std::string>{"after\n", "after\n", "after\n", "late\n"}));
}

} // namespace

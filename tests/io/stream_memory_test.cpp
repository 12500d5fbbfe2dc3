// What an idle connection costs in memory: the bar is at most 1 KiB per idle connection
// of an echo server (its stream state, its handler's frame, its share of the loop's tables),
// with no read buffer held between messages.

#include "corio/io/server.hpp"
#include "corio/net/socket.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "io/io_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace {

// ASan's allocator does not report through mallinfo2, and pads every block.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

using corio::stream_reader;
using corio::stream_writer;
using corio::task;

task<void> echo_lines(stream_reader r, stream_writer w) {
    while (auto line = co_await r.next_line())
        co_await w.write(*line);
}

/// Opens `n` raw client connections to `where`, has each echo one line, and leaves them idle.
task<void> open_idle_clients(std::vector<corio::net::socket>& out, corio::net::endpoint where,
                             int n) {
    for (int i = 0; i < n; ++i) {
        corio::net::socket s = corio::net::socket::open(AF_INET, SOCK_STREAM);
        co_await s.connect(where);
        const std::string line = "hello " + std::to_string(i) + "\n";
        co_await s.send_all(corio::test::bytes_of(line));
        std::array<std::byte, 64> buf;
        std::size_t got = 0;
        while (got < line.size())
            got += co_await s.recv(std::span(buf).subspan(got));
        out.push_back(std::move(s));
    }
}

TEST(StreamMemory, AnIdleEchoConnectionCostsLessThanOneKibibyte) {
    if (sanitized)
        GTEST_SKIP() << "ASan's allocator does not report through mallinfo2";
    constexpr int n = 300;
    double per_connection = 0;
    corio::test::run_virtual([](double& per_connection) -> task<void> {
        corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
        const corio::net::endpoint where = srv.endpoints().at(0);
        std::vector<corio::net::socket> clients;
        clients.reserve(n + 8);
        // Warm-up: the scratch buffer and the like. Kept small, so that the handler frames of
        // the measured connections do not come from the frame cache it leaves behind.
        co_await open_idle_clients(clients, where, 8);
        // The loop's fd table (indexed by fd number) grows once to cover the fds of both ends:
        // the client ends live in this process too, and their share is not the server's.
        {
            std::vector<corio::net::socket> grow;
            for (int i = 0; i < 2 * n + 8; ++i) {
                grow.push_back(corio::net::socket::open(AF_INET, SOCK_DGRAM));
                (void)co_await grow.back().wait_writable();
            }
        }
        clients.clear();
        while (srv.client_count() != 0)
            co_await corio::sleep(std::chrono::milliseconds(1));
        const std::size_t before = ::mallinfo2().uordblks;
        co_await open_idle_clients(clients, where, n);
        while (srv.handler_count() != static_cast<std::size_t>(n))
            co_await corio::sleep(std::chrono::milliseconds(1));
        co_await corio::test::settle();
        const std::size_t after = ::mallinfo2().uordblks;
        per_connection = (static_cast<double>(after) - static_cast<double>(before)) / n;
        clients.clear();
        srv.close();
        co_await srv.wait_closed();
    }(per_connection));
    RecordProperty("bytes_per_idle_connection", std::to_string(per_connection));
    std::printf("heap per idle connection: %.0f bytes\n", per_connection);
    EXPECT_LE(per_connection, 1024.0);
}

} // namespace

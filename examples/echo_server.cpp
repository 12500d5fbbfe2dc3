// A line echo server (asyncio's streams example, in corio): start_server, one task per
// connection, one log line when a client connects and one when it leaves.
//
//   echo_server [--host 127.0.0.1] [--port 8888]   serve until Ctrl-C
//   echo_server --self-test                        serve on a free port, check a client, exit
//
// Try it with `nc 127.0.0.1 8888` or `echo_client --port 8888`.

#include "corio/corio.hpp"

#include "example_args.hpp"

#include <cstddef>
#include <cstdio>
#include <exception>
#include <string>

namespace {

void log(const std::string& text) {
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
}

/// One connection: echo every line back until the client closes its side.
corio::task<> handle_client(corio::stream_reader reader, corio::stream_writer writer) {
    const std::string peer = writer.peer_endpoint().to_string();
    log("connected: " + peer);
    std::size_t lines = 0;
    bool too_long = false;
    try {
        while (auto line = co_await reader.next_line()) {
            co_await writer.write(*line); // waits only if the client stops reading
            ++lines;
        }
    } catch (const corio::limit_overrun_error&) {
        too_long = true; // a line longer than the reader's limit (64 KiB)
    }
    if (too_long)
        co_await writer.write("line too long, bye\n");
    log("closed: " + peer + " (" + std::to_string(lines) + " lines)");
}

corio::task<int> serve(std::string host, std::uint16_t port) {
    corio::server srv = co_await corio::start_server(handle_client, host, port);
    for (const corio::net::endpoint& e : srv.endpoints())
        log("listening on " + e.to_string() + " (Ctrl-C to stop)");
    try {
        co_await srv.serve_forever();
    } catch (const corio::cancelled_error&) {
        log("stopping");
    }
    co_return 0;
}

/// The smoke test CI runs: a server on a free port, a client that sends lines and checks them.
corio::task<int> self_test() {
    corio::server srv = co_await corio::start_server(handle_client, "127.0.0.1", 0);
    const std::uint16_t port = srv.endpoints().at(0).port();
    auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
    int failures = 0;
    for (int i = 0; i < 100; ++i) {
        const std::string line = "line " + std::to_string(i) + "\n";
        co_await writer.write(line);
        if (co_await reader.readline() != line)
            ++failures;
    }
    writer.close();
    co_await writer.wait_closed();
    srv.close();
    co_await srv.wait_closed();
    log(failures == 0 ? "self-test passed" : "self-test FAILED");
    co_return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    const auto args = examples::parse_example_args(argc, argv, 8888);
    if (!args)
        return 2;
    try {
        return args->self_test ? corio::run(self_test())
                               : corio::run(serve(args->host, args->port));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}

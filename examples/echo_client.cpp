// A line echo client: open_connection, send lines, check that each comes back.
//
//   echo_client [--host 127.0.0.1] [--port 8888] [--count 10]   against a running echo_server
//   echo_client --self-test                                     against an echo server of its own
//
// Exits with 0 when every line came back unchanged.

#include "corio/corio.hpp"

#include "example_args.hpp"

#include <cstdio>
#include <exception>
#include <string>

namespace {

/// Sends `count` lines and checks the echo of each; returns the number of mismatches.
corio::task<int> run_client(std::string host, std::uint16_t port, int count) {
    auto [reader, writer] = co_await corio::open_connection(host, port);
    std::printf("connected to %s\n", writer.peer_endpoint().to_string().c_str());
    int mismatches = 0;
    for (int i = 0; i < count; ++i) {
        const std::string line = "hello " + std::to_string(i) + "\n";
        co_await writer.write(line);
        const std::string echo = co_await reader.readline();
        if (echo != line) {
            std::printf("mismatch: sent %s got %s\n", line.c_str(), echo.c_str());
            ++mismatches;
        }
    }
    writer.write_eof(); // half-close: the server sees the end of the stream and closes
    const std::string rest = co_await reader.read();
    writer.close();
    co_await writer.wait_closed();
    std::printf("%d lines echoed, %d mismatches%s\n", count, mismatches,
                rest.empty() ? "" : ", and unexpected trailing data");
    co_return mismatches + (rest.empty() ? 0 : 1);
}

corio::task<> echo_lines(corio::stream_reader reader, corio::stream_writer writer) {
    while (auto line = co_await reader.next_line())
        co_await writer.write(*line);
}

corio::task<int> self_test(int count) {
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
    const int failures = co_await run_client("127.0.0.1", srv.endpoints().at(0).port(), count);
    srv.close();
    co_await srv.wait_closed();
    std::printf("%s\n", failures == 0 ? "self-test passed" : "self-test FAILED");
    co_return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    const auto args = examples::parse_example_args(argc, argv, 8888, 10);
    if (!args)
        return 2;
    try {
        return args->self_test ? corio::run(self_test(args->count))
                               : corio::run(run_client(args->host, args->port, args->count));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_client: %s\n", e.what());
        return 1;
    }
}

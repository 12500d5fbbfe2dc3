// A UDP echo server and client on corio's net::udp_socket: datagrams have no connection, so
// the server answers each one to its sender.
//
//   udp_echo server [--host 127.0.0.1] [--port 8890]    echo datagrams until Ctrl-C
//   udp_echo client [--host 127.0.0.1] [--port 8890] [--count 10]
//   udp_echo --self-test                                 both in one process, then exit
//
// The client waits at most 1 s for each echo (UDP may drop datagrams) and retries twice.

#include "corio/corio.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <string_view>

namespace {

using namespace std::chrono_literals;

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

/// Echoes every datagram back to its sender, forever (until cancelled).
corio::task<> run_server(corio::net::udp_socket& sock) {
    std::array<std::byte, 65536> buf; // the largest UDP payload fits
    for (;;) {
        const corio::net::udp_datagram d = co_await sock.recv_from(buf);
        co_await sock.send_to(std::span(buf).first(d.size), d.from);
    }
}

corio::task<std::size_t> receive(corio::net::udp_socket& sock, std::span<std::byte> buf) {
    co_return co_await sock.recv(buf);
}

/// Sends `count` datagrams to `server` and checks each echo; returns the number of failures.
corio::task<int> run_client(corio::net::endpoint server, int count) {
    corio::net::udp_socket sock = corio::net::udp_socket::open_connected(server);
    std::array<std::byte, 2048> buf;
    int failures = 0;
    for (int i = 0; i < count; ++i) {
        const std::string msg = "datagram " + std::to_string(i);
        bool echoed = false;
        for (int attempt = 0; attempt < 3 && !echoed; ++attempt) {
            co_await sock.send(bytes_of(msg));
            try {
                const std::size_t n = co_await corio::timeout(1s, receive(sock, buf));
                echoed = std::string_view(reinterpret_cast<const char*>(buf.data()), n) == msg;
            } catch (const corio::timeout_error&) {
                std::printf("no echo for %s, retrying\n", msg.c_str());
            }
        }
        if (!echoed)
            ++failures;
    }
    std::printf("%d datagrams, %d without a correct echo\n", count, failures);
    co_return failures;
}

corio::task<int> server_main(std::string host, std::uint16_t port) {
    corio::net::udp_socket sock = corio::net::udp_socket::bind(
        corio::net::endpoint(corio::net::ip_address::parse(host), port));
    std::printf("udp echo on %s (Ctrl-C to stop)\n", sock.local_endpoint().to_string().c_str());
    std::fflush(stdout);
    try {
        co_await run_server(sock);
    } catch (const corio::cancelled_error&) {
        std::printf("stopping\n");
    }
    co_return 0;
}

corio::task<int> self_test() {
    corio::net::udp_socket sock = corio::net::udp_socket::bind(
        corio::net::endpoint(corio::net::ip_address::v4_loopback(), 0));
    auto server = corio::create_task(run_server(sock));
    const int failures = co_await run_client(sock.local_endpoint(), 20);
    server.cancel();
    try {
        co_await server;
    } catch (const corio::cancelled_error&) {
    }
    std::printf("%s\n", failures == 0 ? "self-test passed" : "self-test FAILED");
    co_return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    std::string mode;
    std::string host = "127.0.0.1";
    std::uint16_t port = 8890;
    int count = 10;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--self-test" || a == "server" || a == "client")
            mode = a;
        else if (a == "--host" && i + 1 < argc)
            host = argv[++i];
        else if (a == "--port" && i + 1 < argc)
            port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        else if (a == "--count" && i + 1 < argc)
            count = std::atoi(argv[++i]);
        else
            mode = "?";
    }
    try {
        if (mode == "--self-test")
            return corio::run(self_test());
        if (mode == "server")
            return corio::run(server_main(host, port));
        if (mode == "client") {
            const corio::net::endpoint to(corio::net::ip_address::parse(host), port);
            return corio::run(run_client(to, count)) == 0 ? 0 : 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "udp_echo: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "usage: %s server|client|--self-test [--host H] [--port N] [--count N]\n",
                 argv[0]);
    return 2;
}

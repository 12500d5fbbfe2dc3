// corio's echo server for ./run.sh bench-net: `corio_echo_server PORT [--backend NAME]`.
//
// Single-threaded, listening on 127.0.0.1:PORT (SO_REUSEADDR; TCP_NODELAY on accepted sockets,
// as start_server always does), echoing every byte back, printing nothing per request, and
// exiting with 0 on SIGTERM or SIGINT. `--list-backends` prints the backends it can run on, one
// per line.
//
// It is an ordinary start_server program on corio's streams. Each connection's handler waits
// for readability with stream_reader::wait_readable(), which holds no buffer, then reads with
// try_read() into one buffer shared by all connections (it is used only between two suspension
// points), and writes the bytes back with stream_writer::write(): a write with nothing queued
// sends straight from that buffer, and only bytes the socket does not take are copied into the
// connection's own buffer (and waited for, past the high-water mark). So an idle connection owns
// its stream state and its handler's frame only, and a message costs one recv and one send, as in
// the hand-written C epoll reference.

#include "corio/corio.hpp"

#include "stop_signals.hpp"

// corio's private backend list, for --list-backends (this target sees src/).
#include "backend/backend.hpp"
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <system_error>

namespace {

// The one read buffer of the process (the server is single-threaded).
std::array<std::byte, 64 * 1024> g_buffer;

corio::task<> echo(corio::stream_reader reader, corio::stream_writer writer) {
    try {
        for (;;) {
            co_await reader.wait_readable();
            // Read until the socket is empty: after a short read the loop knows it is, and the
            // next try_read returns nullopt without a system call.
            while (std::optional<std::size_t> n = reader.try_read(g_buffer)) {
                if (*n == 0)
                    co_return; // the client closed its side
                co_await writer.write(std::span(g_buffer).first(*n));
            }
        }
    } catch (const std::system_error&) {
        // The client reset the connection (load generators do when they stop): nothing to
        // report, and the connection closes as the handler returns.
    }
}

corio::task<int> serve(std::uint16_t port, const corio_bench::stop_signals& stop) {
    corio::server_options options;
    options.backlog = SOMAXCONN;
    corio::server srv = co_await corio::start_server(echo, "127.0.0.1", port, options);

    co_await stop.wait(); // SIGTERM or SIGINT
    srv.close();
    srv.abort_clients();
    co_return 0;
}

} // namespace

int main(int argc, char** argv) {
    corio::loop_options options;
    int port = -1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--list-backends") == 0) {
            for (const std::string& name : corio::detail::available_backends())
                std::printf("%s\n", name.c_str());
            return 0;
        }
        if (std::strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
            options.backend = argv[++i];
        else if (port < 0 && argv[i][0] != '-')
            port = std::atoi(argv[i]);
        else
            port = -2;
    }
    if (port < 0 || port > 65535) {
        std::fprintf(stderr, "usage: %s PORT [--backend NAME] | --list-backends\n", argv[0]);
        return 2;
    }

    try {
        const corio_bench::stop_signals stop;
        return corio::run(serve(static_cast<std::uint16_t>(port), stop), options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corio_echo_server: %s\n", e.what());
        return 1;
    }
}

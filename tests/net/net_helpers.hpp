#pragma once

// Helpers shared by the net tests: byte spans from text, loopback endpoints, a connected pair
// of TCP streams, and a socket whose send buffer is full.

#include "corio/core/create_task.hpp"
#include "corio/core/task.hpp"
#include "corio/net/endpoint.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/net/tcp_stream.hpp"
#include "corio/time/sleep.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace corio::test {

inline std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

inline std::string text_of(std::span<const std::byte> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

inline net::endpoint loopback_v4(std::uint16_t port = 0) {
    return net::endpoint(net::ip_address::v4_loopback(), port);
}

struct tcp_pair {
    net::tcp_stream client;
    net::tcp_stream server;
};

/// A client connected to a server stream over 127.0.0.1.
inline task<tcp_pair> make_tcp_pair() {
    auto l = net::tcp_listener::bind(loopback_v4());
    auto connecting = create_task(net::tcp_stream::connect(l.local_endpoint()));
    net::tcp_stream server = co_await l.accept();
    net::tcp_stream client = co_await std::move(connecting);
    co_return tcp_pair{std::move(client), std::move(server)};
}

/// Sends with plain non-blocking send(2) until the kernel refuses more, and stays refusing for
/// 50 ms; returns the byte count. The send buffer of `fd` is full afterwards (until the peer
/// reads). The wait matters under load: loopback can move queued bytes on to the peer's receive
/// buffer after the first EAGAIN, which would make room again.
inline std::size_t fill_send_buffer(int fd) {
    static const std::string chunk(4096, 'f');
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 50) <= 0)
            return total;
    }
}

/// Lets every ready task run until it parks, and the loop poll for I/O in between: a few loop
/// iterations. (sleep(0) would not do: tasks it requeues run within the same iteration, before
/// the loop polls.)
inline task<void> settle(int rounds = 4) {
    for (int i = 0; i < rounds; ++i)
        co_await sleep(std::chrono::milliseconds(1));
}

} // namespace corio::test

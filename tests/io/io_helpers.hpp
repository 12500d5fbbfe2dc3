#pragma once

// Helpers shared by the io tests: connected stream pairs over TCP loopback, and a raw peer.

#include "corio/core/task.hpp"
#include "corio/io/stream_options.hpp"
#include "corio/io/streams.hpp"
#include "corio/net/tcp_stream.hpp"

#include "net/net_helpers.hpp"

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <utility>

namespace corio::test {

/// Streams on one end of a TCP connection, a plain tcp_stream on the other (the peer the test
/// drives by hand).
struct streams_and_peer {
    streams s;
    net::tcp_stream peer;
};

inline task<streams_and_peer> make_streams_and_peer(stream_options o = {}) {
    tcp_pair p = co_await make_tcp_pair();
    streams s = make_streams(std::move(p.server), o);
    co_return streams_and_peer{std::move(s), std::move(p.client)};
}

/// Streams on both ends of a TCP connection.
struct stream_pair {
    streams a;
    streams b;
};

inline task<stream_pair> make_stream_pair(stream_options o = {}) {
    tcp_pair p = co_await make_tcp_pair();
    streams a = make_streams(std::move(p.client), o);
    streams b = make_streams(std::move(p.server), o);
    co_return stream_pair{std::move(a), std::move(b)};
}

/// Sends all of `text` on a raw stream.
inline task<void> send_text(net::tcp_stream& s, std::string text) {
    co_await s.send_all(bytes_of(text));
}

/// Receives until the peer closes, and returns everything.
inline task<std::string> recv_all(net::tcp_stream& s) {
    std::string out;
    std::array<std::byte, 4096> buf;
    for (;;) {
        const std::size_t n = co_await s.recv(buf);
        if (n == 0)
            co_return out;
        out += text_of(std::span(buf).first(n));
    }
}

} // namespace corio::test

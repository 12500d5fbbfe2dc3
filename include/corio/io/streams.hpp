#pragma once

#include "corio/io/stream_options.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/io/transport.hpp"

#include <memory>

namespace corio {

namespace net {
class socket;
class tcp_stream;
class unix_stream;
} // namespace net

/// The two halves of a connection, as open_connection returns them (asyncio's (reader, writer)
/// tuple). Use structured bindings: `auto [reader, writer] = co_await corio::open_connection(...)`.
struct streams {
    stream_reader reader;
    stream_writer writer;
};

/// Streams over a connected stream socket (asyncio's open_connection(sock=...)). Call it in a
/// task of the loop that will use the streams. TCP sockets get TCP_NODELAY, as asyncio does.
/// Errors: std::logic_error outside a running event loop; std::invalid_argument for a closed
/// socket; std::bad_alloc.
[[nodiscard]] streams make_streams(net::socket socket, stream_options options = {});
[[nodiscard]] streams make_streams(net::tcp_stream stream, stream_options options = {});
[[nodiscard]] streams make_streams(net::unix_stream stream, stream_options options = {});
/// Streams over any transport (the seam for TLS and pipes; see transport). Errors: as above.
[[nodiscard]] streams make_streams(std::unique_ptr<transport> t, stream_options options = {});

} // namespace corio

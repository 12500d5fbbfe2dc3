#include "corio/io/streams.hpp"

#include "corio/net/socket.hpp"
#include "corio/net/tcp_stream.hpp"
#include "corio/net/unix_stream.hpp"
#include "corio/runtime/event_loop.hpp"

#include "io/stream_state.hpp"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <stdexcept>
#include <utility>

namespace corio {

namespace {

event_loop& running_loop() {
    event_loop* loop = event_loop::current();
    if (!loop)
        throw std::logic_error("corio::make_streams: no running event loop on this thread");
    return *loop;
}

streams wrap(detail::stream_state* s) {
    // The handles take the references; until then nothing owns the state.
    return streams{stream_reader(s), stream_writer(s)};
}

} // namespace

streams make_streams(net::socket socket, stream_options options) {
    event_loop& loop = running_loop();
    if (!socket.is_open())
        throw std::invalid_argument("corio::make_streams: the socket is closed");
    int domain = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
        (domain == AF_INET || domain == AF_INET6)) {
        const int one = 1;
        // As asyncio: small writes leave at once. Not an error if it fails (not TCP).
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return wrap(new detail::stream_state(loop, std::move(socket), options));
}

streams make_streams(net::tcp_stream stream, stream_options options) {
    return make_streams(std::move(stream.sock()), options);
}

streams make_streams(net::unix_stream stream, stream_options options) {
    return make_streams(std::move(stream.sock()), options);
}

streams make_streams(std::unique_ptr<transport> t, stream_options options) {
    running_loop();
    return wrap(new detail::stream_state(std::move(t), options));
}

} // namespace corio

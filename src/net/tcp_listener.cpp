#include "corio/net/tcp_listener.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

namespace corio::net {

tcp_listener tcp_listener::bind(endpoint local, listen_options options) {
    net::socket s = net::socket::open(local.family(), SOCK_STREAM, IPPROTO_TCP);
    if (options.reuse_address)
        s.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
    if (options.reuse_port)
        s.set_option(SOL_SOCKET, SO_REUSEPORT, 1);
    if (options.v6_only && local.is_v6())
        s.set_option(IPPROTO_IPV6, IPV6_V6ONLY, int(*options.v6_only));
    s.bind(local);
    s.listen(options.backlog);
    return tcp_listener(std::move(s));
}

endpoint tcp_listener::local_endpoint() const {
    return m_sock.local_address().to_endpoint();
}

namespace detail {

net::tcp_stream tcp_accept_awaiter::await_resume() {
    return net::tcp_stream(take_socket());
}

} // namespace detail

} // namespace corio::net

#include "corio/net/unix_stream.hpp"

#include <sys/socket.h>

namespace corio::net {

task<unix_stream> unix_stream::connect(unix_endpoint remote) {
    net::socket s = net::socket::open(AF_UNIX, SOCK_STREAM, 0);
    const socket_address to(remote);
    co_await s.connect(to);
    co_return unix_stream(std::move(s));
}

std::pair<unix_stream, unix_stream> unix_stream::pair() {
    auto [a, b] = net::socket::pair(AF_UNIX, SOCK_STREAM, 0);
    return {unix_stream(std::move(a)), unix_stream(std::move(b))};
}

net::peer_credentials unix_stream::peer_credentials() const {
    const auto c = m_sock.get_option<ucred>(SOL_SOCKET, SO_PEERCRED);
    return net::peer_credentials{c.pid, c.uid, c.gid};
}

unix_endpoint unix_stream::local_endpoint() const {
    return m_sock.local_address().to_unix_endpoint();
}

unix_endpoint unix_stream::peer_endpoint() const {
    return m_sock.peer_address().to_unix_endpoint();
}

} // namespace corio::net

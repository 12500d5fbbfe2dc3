#include "corio/net/tcp_stream.hpp"

#include "corio/net/sock.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace corio::net {

task<tcp_stream> tcp_stream::connect(endpoint remote, std::optional<endpoint> local) {
    net::socket s = net::socket::open(remote.family(), SOCK_STREAM, IPPROTO_TCP);
    if (local) {
        if (local->family() != remote.family()) {
            // A mapped address lets an IPv6 socket use an IPv4 local address; the other way
            // round cannot work: say so rather than let bind fail with EINVAL.
            throw std::invalid_argument("corio::net::tcp_stream::connect: the local address " +
                                        local->to_string() + " and the remote address " +
                                        remote.to_string() + " are of different families");
        }
        s.bind(*local);
    }
    const socket_address to(remote);
    co_await s.connect(to);
    co_return tcp_stream(std::move(s));
}

task<std::size_t> tcp_stream::sendfile(int file_fd, std::uint64_t offset,
                                       std::optional<std::size_t> count, std::size_t* sent) {
    return detail::sendfile_on(&m_sock, m_sock.native_handle(), file_fd, offset, count, sent);
}

void tcp_stream::set_nodelay(bool on) {
    m_sock.set_option(IPPROTO_TCP, TCP_NODELAY, int(on));
}

bool tcp_stream::nodelay() const {
    return m_sock.get_option<int>(IPPROTO_TCP, TCP_NODELAY) != 0;
}

void tcp_stream::set_keepalive(std::chrono::seconds idle, std::chrono::seconds interval,
                               int count) {
    m_sock.set_option(SOL_SOCKET, SO_KEEPALIVE, 1);
    m_sock.set_option(IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(idle.count()));
    m_sock.set_option(IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(interval.count()));
    m_sock.set_option(IPPROTO_TCP, TCP_KEEPCNT, count);
}

void tcp_stream::set_linger(std::optional<std::chrono::seconds> linger) {
    ::linger l{};
    l.l_onoff = linger ? 1 : 0;
    l.l_linger = linger ? static_cast<int>(linger->count()) : 0;
    m_sock.set_option(SOL_SOCKET, SO_LINGER, l);
}

endpoint tcp_stream::local_endpoint() const {
    return m_sock.local_address().to_endpoint();
}

void tcp_stream::abort() noexcept {
    if (!m_sock.is_open())
        return;
    ::linger l{1, 0};
    // If this fails the close below is a graceful one; nothing better is possible.
    (void)::setsockopt(m_sock.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    m_sock.close();
}

} // namespace corio::net

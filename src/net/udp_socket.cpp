#include "corio/net/udp_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <stdexcept>

namespace corio::net {

namespace {

net::socket open_udp(int family, const udp_options& options) {
    net::socket s = net::socket::open(family, SOCK_DGRAM, IPPROTO_UDP);
    if (options.reuse_address)
        s.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
    if (options.reuse_port)
        s.set_option(SOL_SOCKET, SO_REUSEPORT, 1);
    if (options.broadcast)
        s.set_option(SOL_SOCKET, SO_BROADCAST, 1);
    if (options.v6_only && family == AF_INET6)
        s.set_option(IPPROTO_IPV6, IPV6_V6ONLY, int(*options.v6_only));
    return s;
}

} // namespace

udp_socket udp_socket::bind(endpoint local, udp_options options) {
    net::socket s = open_udp(local.family(), options);
    s.bind(local);
    return udp_socket(std::move(s));
}

udp_socket udp_socket::open(int family) {
    if (family != AF_INET && family != AF_INET6)
        throw std::invalid_argument("corio::net::udp_socket::open: the family must be AF_INET "
                                    "or AF_INET6");
    return udp_socket(open_udp(family, {}));
}

udp_socket udp_socket::open_connected(endpoint remote, std::optional<endpoint> local,
                                      udp_options options) {
    net::socket s = open_udp(remote.family(), options);
    if (local)
        s.bind(*local);
    s.connect_now(remote);
    return udp_socket(std::move(s));
}

void udp_socket::connect(endpoint remote) {
    m_sock.connect_now(remote);
}

bool udp_socket::is_v6() const {
    return m_sock.get_option<int>(SOL_SOCKET, SO_DOMAIN) == AF_INET6;
}

void udp_socket::set_broadcast(bool on) {
    m_sock.set_option(SOL_SOCKET, SO_BROADCAST, int(on));
}

namespace {

void change_membership(net::socket& s, ip_address group, unsigned ifindex, bool join) {
    if (!group.is_multicast())
        throw std::invalid_argument("corio::net::udp_socket: " + group.to_string() +
                                    " is not a multicast group");
    // Linux takes the IPv4 options on an IPv6 socket too (for IPv4-mapped traffic).
    if (group.is_v4()) {
        ip_mreqn m{};
        const auto b = group.v4_bytes();
        std::memcpy(&m.imr_multiaddr, b.data(), 4);
        m.imr_ifindex = static_cast<int>(ifindex);
        s.set_option(IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, m);
        return;
    }
    ipv6_mreq m{};
    const auto b = group.v6_bytes();
    std::memcpy(&m.ipv6mr_multiaddr, b.data(), 16);
    m.ipv6mr_interface = ifindex;
    s.set_option(IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, m);
}

} // namespace

void udp_socket::join_group(ip_address group, unsigned interface_index) {
    change_membership(m_sock, group, interface_index, true);
}

void udp_socket::leave_group(ip_address group, unsigned interface_index) {
    change_membership(m_sock, group, interface_index, false);
}

void udp_socket::set_multicast_loop(bool on) {
    if (is_v6())
        m_sock.set_option(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, int(on));
    else
        m_sock.set_option(IPPROTO_IP, IP_MULTICAST_LOOP, int(on));
}

void udp_socket::set_multicast_ttl(int hops) {
    if (is_v6())
        m_sock.set_option(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops);
    else
        m_sock.set_option(IPPROTO_IP, IP_MULTICAST_TTL, hops);
}

endpoint udp_socket::local_endpoint() const {
    return m_sock.local_address().to_endpoint();
}

namespace detail {

net::udp_datagram udp_recv_from_awaiter::await_resume() {
    const std::size_t n = take_size();
    return net::udp_datagram{n, m_from.to_endpoint(), (m_msg.msg_flags & MSG_TRUNC) != 0};
}

} // namespace detail

} // namespace corio::net

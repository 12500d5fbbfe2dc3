#include "corio/net/endpoint.hpp"

#include "net/detail/text.hpp"
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace corio::net {

endpoint endpoint::parse(std::string_view text) {
    auto fail = [&]() -> endpoint {
        throw std::invalid_argument("corio::net::endpoint: " + detail::quote(text) +
                                    " is not an address and port such as 192.0.2.1:80 or "
                                    "[2001:db8::1]:80");
    };
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return fail();
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (host.find(':') == std::string_view::npos)
            return fail(); // brackets are for IPv6 only
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return fail();
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return fail(); // an IPv6 address must be bracketed
    }
    std::uint16_t p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size())
        return fail();
    auto a = ip_address::try_parse(host);
    if (!a)
        return fail();
    return endpoint(*a, p);
}

endpoint endpoint::from_sockaddr(const sockaddr* address, socklen_t length) {
    if (address && address->sa_family == AF_INET && length >= socklen_t(sizeof(sockaddr_in))) {
        sockaddr_in in;
        std::memcpy(&in, address, sizeof in);
        std::array<std::uint8_t, 4> b;
        std::memcpy(b.data(), &in.sin_addr, 4);
        return endpoint(ip_address::v4(b), ntohs(in.sin_port));
    }
    if (address && address->sa_family == AF_INET6 && length >= socklen_t(sizeof(sockaddr_in6))) {
        sockaddr_in6 in6;
        std::memcpy(&in6, address, sizeof in6);
        std::array<std::uint8_t, 16> b;
        std::memcpy(b.data(), &in6.sin6_addr, 16);
        return endpoint(ip_address::v6(b, in6.sin6_scope_id), ntohs(in6.sin6_port));
    }
    throw std::invalid_argument(
        "corio::net::endpoint::from_sockaddr: not an IPv4 or IPv6 address (family " +
        std::to_string(address ? address->sa_family : -1) + ", length " + std::to_string(length) +
        ")");
}

socklen_t endpoint::to_sockaddr(sockaddr_storage& out) const noexcept {
    std::memset(&out, 0, sizeof out);
    if (m_address.is_v4()) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(m_port);
        const auto b = m_address.v4_bytes();
        std::memcpy(&in.sin_addr, b.data(), 4);
        std::memcpy(&out, &in, sizeof in);
        return sizeof in;
    }
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(m_port);
    const auto b = m_address.v6_bytes();
    std::memcpy(&in6.sin6_addr, b.data(), 16);
    in6.sin6_scope_id = m_address.scope_id();
    std::memcpy(&out, &in6, sizeof in6);
    return sizeof in6;
}

std::string endpoint::to_string() const {
    std::string s = m_address.to_string();
    if (m_address.is_v6())
        s = "[" + s + "]";
    s += ':';
    s += std::to_string(m_port);
    return s;
}

} // namespace corio::net

std::size_t
std::hash<corio::net::endpoint>::operator()(const corio::net::endpoint& e) const noexcept {
    const std::size_t h = std::hash<corio::net::ip_address>()(e.address());
    return h ^ (std::size_t(e.port()) * 0x9e3779b97f4a7c15ull);
}

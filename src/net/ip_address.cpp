#include "corio/net/ip_address.hpp"

#include "net/detail/text.hpp"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace corio::net {

namespace {

// Long enough for any IPv6 text (45 chars), '%' and an interface name (IFNAMSIZ - 1).
constexpr std::size_t max_text = INET6_ADDRSTRLEN + IF_NAMESIZE + 1;

std::optional<std::uint32_t> parse_scope(std::string_view scope) noexcept {
    if (scope.empty())
        return std::nullopt;
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(scope.data(), scope.data() + scope.size(), n);
    if (ec == std::errc() && end == scope.data() + scope.size())
        return n;
    char name[IF_NAMESIZE + 1];
    if (scope.size() >= IF_NAMESIZE)
        return std::nullopt;
    std::memcpy(name, scope.data(), scope.size());
    name[scope.size()] = '\0';
    const unsigned index = ::if_nametoindex(name);
    if (index == 0)
        return std::nullopt;
    return index;
}

} // namespace

std::optional<ip_address> ip_address::try_parse(std::string_view text) noexcept {
    if (text.empty() || text.size() > max_text)
        return std::nullopt;
    char buf[max_text + 1];
    if (text.find(':') != std::string_view::npos) {
        std::uint32_t scope = 0;
        std::string_view addr = text;
        if (const auto pct = text.find('%'); pct != std::string_view::npos) {
            auto s = parse_scope(text.substr(pct + 1));
            if (!s)
                return std::nullopt;
            scope = *s;
            addr = text.substr(0, pct);
        }
        std::memcpy(buf, addr.data(), addr.size());
        buf[addr.size()] = '\0';
        in6_addr a;
        if (::inet_pton(AF_INET6, buf, &a) != 1)
            return std::nullopt;
        std::array<std::uint8_t, 16> bytes;
        std::memcpy(bytes.data(), &a, 16);
        return v6(bytes, scope);
    }
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    in_addr a;
    // inet_pton accepts only the strict dotted-quad form, unlike inet_aton ("1", "0x7f.1").
    if (::inet_pton(AF_INET, buf, &a) != 1)
        return std::nullopt;
    std::array<std::uint8_t, 4> bytes;
    std::memcpy(bytes.data(), &a, 4);
    return v4(bytes);
}

ip_address ip_address::parse(std::string_view text) {
    if (auto a = try_parse(text))
        return *a;
    throw std::invalid_argument("corio::net::ip_address: " + detail::quote(text) +
                                " is not an IPv4 or IPv6 address");
}

int ip_address::family() const noexcept {
    return m_v6 ? AF_INET6 : AF_INET;
}

bool ip_address::is_v4_mapped() const noexcept {
    if (!m_v6)
        return false;
    for (std::size_t i = 0; i < 10; ++i)
        if (m_bytes[i] != 0)
            return false;
    return m_bytes[10] == 0xff && m_bytes[11] == 0xff;
}

ip_address ip_address::unmapped() const noexcept {
    if (!is_v4_mapped())
        return *this;
    return v4({m_bytes[12], m_bytes[13], m_bytes[14], m_bytes[15]});
}

bool ip_address::is_loopback() const noexcept {
    const ip_address a = unmapped();
    if (a.is_v4())
        return a.m_bytes[0] == 127;
    return a == v6_loopback();
}

bool ip_address::is_any() const noexcept {
    for (std::uint8_t b : m_bytes)
        if (b != 0)
            return false;
    return true;
}

bool ip_address::is_multicast() const noexcept {
    const ip_address a = unmapped();
    if (a.is_v4())
        return (a.m_bytes[0] & 0xf0) == 0xe0;
    return a.m_bytes[0] == 0xff;
}

std::array<std::uint8_t, 4> ip_address::v4_bytes() const noexcept {
    if (m_v6)
        return {};
    return {m_bytes[0], m_bytes[1], m_bytes[2], m_bytes[3]};
}

std::uint32_t ip_address::v4_uint() const noexcept {
    if (m_v6)
        return 0;
    return std::uint32_t(m_bytes[0]) << 24 | std::uint32_t(m_bytes[1]) << 16 |
           std::uint32_t(m_bytes[2]) << 8 | std::uint32_t(m_bytes[3]);
}

std::array<std::uint8_t, 16> ip_address::v6_bytes() const noexcept {
    if (m_v6)
        return m_bytes;
    return {0, 0, 0,    0,    0,          0,          0,          0,
            0, 0, 0xff, 0xff, m_bytes[0], m_bytes[1], m_bytes[2], m_bytes[3]};
}

std::string ip_address::to_string() const {
    char buf[max_text + 1];
    if (!m_v6) {
        ::inet_ntop(AF_INET, m_bytes.data(), buf, sizeof buf);
        return buf;
    }
    ::inet_ntop(AF_INET6, m_bytes.data(), buf, sizeof buf);
    std::string s = buf;
    if (m_scope_id != 0) {
        char name[IF_NAMESIZE];
        s += '%';
        if (::if_indextoname(m_scope_id, name))
            s += name;
        else
            s += std::to_string(m_scope_id);
    }
    return s;
}

} // namespace corio::net

std::size_t
std::hash<corio::net::ip_address>::operator()(const corio::net::ip_address& a) const noexcept {
    // FNV-1a over the bytes, the scope and the family.
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](std::uint8_t b) {
        h ^= b;
        h *= 1099511628211ull;
    };
    for (std::uint8_t b : a.v6_bytes())
        mix(b);
    const std::uint32_t s = a.scope_id();
    for (int i = 0; i < 4; ++i)
        mix(static_cast<std::uint8_t>(s >> (8 * i)));
    mix(a.is_v6() ? 6 : 4);
    return static_cast<std::size_t>(h);
}

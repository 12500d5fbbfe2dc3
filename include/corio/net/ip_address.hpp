#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace corio::net {

/// An IPv4 or IPv6 address (Python's ipaddress.IPv4Address / IPv6Address in one value type).
///
/// A plain value: trivially copyable, comparable, hashable. IPv6 addresses keep their scope id
/// (the interface of a link-local address, "fe80::1%eth0"). The default value is 0.0.0.0.
///
/// Example:
/// @code
/// auto a = corio::net::ip_address::parse("::1");
/// assert(a.is_v6() && a.is_loopback() && a.to_string() == "::1");
/// @endcode
class ip_address {
  public:
    /// The IPv4 unspecified address 0.0.0.0.
    constexpr ip_address() noexcept = default;

    /// Parses dotted-quad IPv4 ("192.0.2.1") or IPv6 text ("2001:db8::1", "::ffff:1.2.3.4",
    /// "fe80::1%eth0" or "fe80::1%2"). Leading and trailing spaces are not accepted.
    /// Errors: std::invalid_argument naming the text when it is not an address (or names an
    /// unknown interface).
    static ip_address parse(std::string_view text);
    /// Like parse(), but returns nullopt instead of throwing.
    static std::optional<ip_address> try_parse(std::string_view text) noexcept;

    /// An IPv4 address from its four bytes, in network order (192.0.2.1 is {192, 0, 2, 1}).
    static constexpr ip_address v4(std::array<std::uint8_t, 4> bytes) noexcept {
        ip_address a;
        for (std::size_t i = 0; i < 4; ++i)
            a.m_bytes[i] = bytes[i];
        return a;
    }
    /// An IPv4 address from a host-order integer (0x7f000001 is 127.0.0.1).
    static constexpr ip_address v4(std::uint32_t host_order) noexcept {
        return v4({static_cast<std::uint8_t>(host_order >> 24),
                   static_cast<std::uint8_t>(host_order >> 16),
                   static_cast<std::uint8_t>(host_order >> 8),
                   static_cast<std::uint8_t>(host_order)});
    }
    /// An IPv6 address from its sixteen bytes, in network order, and an optional scope id.
    static constexpr ip_address v6(const std::array<std::uint8_t, 16>& bytes,
                                   std::uint32_t scope_id = 0) noexcept {
        ip_address a;
        a.m_bytes = bytes;
        a.m_scope_id = scope_id;
        a.m_v6 = true;
        return a;
    }

    /// 0.0.0.0, 127.0.0.1, ::, ::1.
    static constexpr ip_address v4_any() noexcept { return ip_address(); }
    static constexpr ip_address v4_loopback() noexcept { return v4(0x7f000001u); }
    static constexpr ip_address v6_any() noexcept { return v6({}); }
    static constexpr ip_address v6_loopback() noexcept {
        return v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    }

    [[nodiscard]] constexpr bool is_v4() const noexcept { return !m_v6; }
    [[nodiscard]] constexpr bool is_v6() const noexcept { return m_v6; }
    /// AF_INET or AF_INET6.
    [[nodiscard]] int family() const noexcept;

    /// 127.0.0.0/8 or ::1 (and ::ffff:127.x.y.z).
    [[nodiscard]] bool is_loopback() const noexcept;
    /// The unspecified address: 0.0.0.0 or ::.
    [[nodiscard]] bool is_any() const noexcept;
    /// 224.0.0.0/4 or ff00::/8.
    [[nodiscard]] bool is_multicast() const noexcept;
    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d).
    [[nodiscard]] bool is_v4_mapped() const noexcept;
    /// For an IPv4-mapped IPv6 address, the IPv4 address; otherwise the address itself.
    [[nodiscard]] ip_address unmapped() const noexcept;

    /// The four bytes of an IPv4 address (zeros for an IPv6 address).
    [[nodiscard]] std::array<std::uint8_t, 4> v4_bytes() const noexcept;
    /// The IPv4 address as a host-order integer (0 for an IPv6 address).
    [[nodiscard]] std::uint32_t v4_uint() const noexcept;
    /// The sixteen bytes of an IPv6 address; an IPv4 address gives its mapped form ::ffff:a.b.c.d.
    [[nodiscard]] std::array<std::uint8_t, 16> v6_bytes() const noexcept;
    /// The IPv6 scope id (interface index), 0 when there is none or for IPv4.
    [[nodiscard]] std::uint32_t scope_id() const noexcept { return m_scope_id; }

    /// The canonical text: "192.0.2.1", "2001:db8::1" (RFC 5952), with "%<interface>" appended
    /// when there is a scope id (the interface name when it exists, else the number).
    [[nodiscard]] std::string to_string() const;

    /// IPv4 addresses order before IPv6 ones; then by bytes, then by scope id.
    friend constexpr bool operator==(const ip_address&, const ip_address&) noexcept = default;
    friend constexpr std::strong_ordering operator<=>(const ip_address& a,
                                                      const ip_address& b) noexcept {
        if (auto c = a.m_v6 <=> b.m_v6; c != 0)
            return c;
        for (std::size_t i = 0; i < 16; ++i)
            if (auto c = a.m_bytes[i] <=> b.m_bytes[i]; c != 0)
                return c;
        return a.m_scope_id <=> b.m_scope_id;
    }

  private:
    // Invariant: for IPv4, the first four bytes hold the address and the rest are zero, and
    // m_scope_id is 0.
    std::array<std::uint8_t, 16> m_bytes{};
    std::uint32_t m_scope_id = 0;
    bool m_v6 = false;
};

} // namespace corio::net

/// Hashes the address (for unordered containers).
template <>
struct std::hash<corio::net::ip_address> {
    std::size_t operator()(const corio::net::ip_address& a) const noexcept;
};

#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace corio::net {

/// The address of a Unix domain socket: a filesystem path, a name in Linux's abstract
/// namespace, or unnamed (an unbound socket, or one end of a socketpair).
///
/// Trivially copyable and comparable. The default value is unnamed.
///
/// Example:
/// @code
/// corio::net::unix_endpoint file("/run/app.sock");
/// corio::net::unix_endpoint abstract("@app");   // abstract namespace, no file
/// assert(abstract.is_abstract() && abstract.name() == "app");
/// @endcode
class unix_endpoint {
  public:
    /// The longest path or abstract name: sun_path (108 bytes) less the terminating NUL or the
    /// leading NUL of an abstract name.
    static constexpr std::size_t max_length = 107;

    /// Unnamed.
    constexpr unix_endpoint() noexcept = default;
    /// A filesystem path, or an abstract name when `path` starts with '@' or '\0' (the rest is
    /// the name; it may contain any byte).
    /// Errors: std::invalid_argument naming the path when it is empty, longer than max_length,
    /// or (a filesystem path) contains a NUL byte.
    explicit unix_endpoint(std::string_view path);
    /// A name in the abstract namespace (no leading '@' or '\0': `name` is taken as is).
    /// Errors: std::invalid_argument when it is longer than max_length.
    static unix_endpoint abstract(std::string_view name);

    /// Reads a sockaddr_un of `length` bytes, as accept, getsockname and recvfrom return it.
    /// Errors: std::invalid_argument for another family.
    static unix_endpoint from_sockaddr(const sockaddr* address, socklen_t length);

    [[nodiscard]] constexpr bool is_unnamed() const noexcept { return m_kind == kind::unnamed; }
    [[nodiscard]] constexpr bool is_abstract() const noexcept { return m_kind == kind::abstract; }
    [[nodiscard]] constexpr bool is_path() const noexcept { return m_kind == kind::path; }

    /// The filesystem path, or the abstract name without its leading NUL, or "" when unnamed.
    [[nodiscard]] std::string_view name() const noexcept {
        return std::string_view(m_data.data(), m_length);
    }
    /// The path; "@name" for an abstract name (NUL bytes inside it shown as '@', as
    /// /proc/net/unix does); "" when unnamed.
    [[nodiscard]] std::string to_string() const;

    /// Writes the sockaddr_un and returns its length (only the used bytes for an abstract name,
    /// as Linux requires).
    socklen_t to_sockaddr(sockaddr_storage& out) const noexcept;

    friend constexpr bool operator==(const unix_endpoint& a, const unix_endpoint& b) noexcept {
        return a.m_kind == b.m_kind && a.name() == b.name();
    }

  private:
    enum class kind : std::uint8_t { unnamed, path, abstract };
    std::array<char, max_length> m_data{};
    std::uint8_t m_length = 0;
    kind m_kind = kind::unnamed;
};

} // namespace corio::net

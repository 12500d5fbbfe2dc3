#include "corio/net/unix_endpoint.hpp"

#include "net/detail/text.hpp"
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace corio::net {

static_assert(sizeof(sockaddr_un::sun_path) == unix_endpoint::max_length + 1);

unix_endpoint::unix_endpoint(std::string_view path) {
    if (path.empty())
        throw std::invalid_argument(
            "corio::net::unix_endpoint: an empty path (use the default value for unnamed)");
    if (path.front() == '@' || path.front() == '\0') {
        *this = abstract(path.substr(1));
        return;
    }
    if (path.size() > max_length)
        throw std::invalid_argument("corio::net::unix_endpoint: the path " + detail::quote(path) +
                                    " is " + std::to_string(path.size()) +
                                    " bytes long; a Unix socket path holds at most " +
                                    std::to_string(max_length));
    if (path.find('\0') != std::string_view::npos)
        throw std::invalid_argument("corio::net::unix_endpoint: the path " + detail::quote(path) +
                                    " contains a NUL byte");
    std::memcpy(m_data.data(), path.data(), path.size());
    m_length = static_cast<std::uint8_t>(path.size());
    m_kind = kind::path;
}

unix_endpoint unix_endpoint::abstract(std::string_view name) {
    if (name.size() > max_length)
        throw std::invalid_argument("corio::net::unix_endpoint: the abstract name " +
                                    detail::quote(name) + " is " + std::to_string(name.size()) +
                                    " bytes long; it holds at most " + std::to_string(max_length));
    unix_endpoint e;
    std::memcpy(e.m_data.data(), name.data(), name.size());
    e.m_length = static_cast<std::uint8_t>(name.size());
    e.m_kind = kind::abstract;
    return e;
}

unix_endpoint unix_endpoint::from_sockaddr(const sockaddr* address, socklen_t length) {
    if (!address || length < socklen_t(sizeof(sa_family_t)) || address->sa_family != AF_UNIX)
        throw std::invalid_argument(
            "corio::net::unix_endpoint::from_sockaddr: not a Unix socket address");
    const auto* un = reinterpret_cast<const sockaddr_un*>(address);
    constexpr socklen_t header = offsetof(sockaddr_un, sun_path);
    std::size_t n = length > header ? std::size_t(length - header) : 0;
    n = std::min(n, sizeof un->sun_path);
    if (n == 0)
        return unix_endpoint();
    unix_endpoint e;
    if (un->sun_path[0] == '\0') {
        // Abstract: every byte after the leading NUL is the name, NULs included.
        e.m_kind = kind::abstract;
        e.m_length = static_cast<std::uint8_t>(n - 1);
        std::memcpy(e.m_data.data(), un->sun_path + 1, n - 1);
        return e;
    }
    // A path: the kernel may or may not count the terminating NUL.
    const std::size_t len = ::strnlen(un->sun_path, std::min(n, max_length));
    e.m_kind = kind::path;
    e.m_length = static_cast<std::uint8_t>(len);
    std::memcpy(e.m_data.data(), un->sun_path, len);
    return e;
}

std::string unix_endpoint::to_string() const {
    if (m_kind != kind::abstract)
        return std::string(name());
    std::string s = "@";
    for (char c : name())
        s += c == '\0' ? '@' : c;
    return s;
}

socklen_t unix_endpoint::to_sockaddr(sockaddr_storage& out) const noexcept {
    std::memset(&out, 0, sizeof out);
    auto* un = reinterpret_cast<sockaddr_un*>(&out);
    un->sun_family = AF_UNIX;
    constexpr socklen_t header = offsetof(sockaddr_un, sun_path);
    switch (m_kind) {
    case kind::unnamed:
        return header;
    case kind::path:
        std::memcpy(un->sun_path, m_data.data(), m_length);
        return header + m_length + 1; // with the terminating NUL (memset above)
    case kind::abstract:
        std::memcpy(un->sun_path + 1, m_data.data(), m_length);
        return header + 1 + m_length;
    }
    return header;
}

} // namespace corio::net

#include "corio/net/socket_address.hpp"

#include <netinet/in.h>

#include <cstring>
#include <stdexcept>

namespace corio::net {

socket_address::socket_address() noexcept {
    std::memset(&m_storage, 0, sizeof m_storage);
}

socket_address::socket_address(const endpoint& e) noexcept {
    m_length = e.to_sockaddr(m_storage);
}

socket_address::socket_address(const unix_endpoint& e) noexcept {
    m_length = e.to_sockaddr(m_storage);
}

socket_address::socket_address(const sockaddr* address, socklen_t length) noexcept {
    std::memset(&m_storage, 0, sizeof m_storage);
    resize(length);
    if (address)
        std::memcpy(&m_storage, address, m_length);
    else
        m_length = 0;
}

int socket_address::family() const noexcept {
    return m_length >= socklen_t(sizeof(sa_family_t)) ? m_storage.ss_family : AF_UNSPEC;
}

bool socket_address::is_ip() const noexcept {
    const int f = family();
    return f == AF_INET || f == AF_INET6;
}

endpoint socket_address::to_endpoint() const {
    return endpoint::from_sockaddr(data(), m_length);
}

unix_endpoint socket_address::to_unix_endpoint() const {
    return unix_endpoint::from_sockaddr(data(), m_length);
}

std::string socket_address::to_string() const {
    if (is_ip())
        return to_endpoint().to_string();
    if (is_unix()) {
        const unix_endpoint u = to_unix_endpoint();
        return u.is_unnamed() ? std::string("<unnamed>") : u.to_string();
    }
    return "<family " + std::to_string(family()) + ">";
}

} // namespace corio::net

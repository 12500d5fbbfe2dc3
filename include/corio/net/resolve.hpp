#pragma once

#include "corio/core/task.hpp"
#include "corio/net/dns_error.hpp"
#include "corio/net/endpoint.hpp"

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace corio::net {

/// What resolve() asks getaddrinfo for (its hints).
struct resolve_options {
    /// AF_UNSPEC (both), AF_INET or AF_INET6.
    int family = AF_UNSPEC;
    /// SOCK_STREAM, SOCK_DGRAM, or 0 for any (the endpoints are the same; 0 only makes the
    /// resolver's answer longer).
    int type = SOCK_STREAM;
    /// IPPROTO_TCP, IPPROTO_UDP, or 0.
    int protocol = 0;
    /// AI_* flags (AI_PASSIVE, AI_ADDRCONFIG, AI_NUMERICHOST, AI_V4MAPPED...).
    int flags = 0;
};

/// Resolves `host` and `service` to endpoints, in the resolver's order of preference without
/// duplicates (asyncio's getaddrinfo, keeping only the addresses).
///
/// `host` may be a name, an IPv4 or IPv6 literal, or "" (with AI_PASSIVE the wildcard
/// addresses, otherwise loopback). `service` is a port number or a service name ("http").
/// Literal addresses with a numeric port never leave the loop. Other lookups run getaddrinfo on
/// a worker thread (the loop's default executor). Names under the reserved ".invalid" domain
/// fail at once (RFC 6761 §6.4) without asking anyone.
///
/// Cancellation: the awaiting task stops waiting at once; the getaddrinfo call finishes on its
/// thread and its result is dropped.
/// Errors: dns_error naming the host ("resolve nosuchhost.invalid port 80: Name or service not
/// known"); std::system_error if no thread could run the lookup.
///
/// Example:
/// @code
/// std::vector<corio::net::endpoint> eps = co_await corio::net::resolve("localhost", 8080);
/// @endcode
[[nodiscard]] task<std::vector<endpoint>> resolve(std::string host, std::string service,
                                                  resolve_options options = {});
/// resolve() with a numeric port.
[[nodiscard]] task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port,
                                                  resolve_options options = {});

} // namespace corio::net

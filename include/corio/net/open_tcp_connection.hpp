#pragma once

#include "corio/core/task.hpp"
#include "corio/net/connect_error.hpp"
#include "corio/net/endpoint.hpp"
#include "corio/net/tcp_stream.hpp"

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corio::net {

/// How open_tcp_connection races its connection attempts (RFC 8305, asyncio's
/// happy_eyeballs_delay and interleave).
struct happy_eyeballs_options {
    /// How long an attempt may go unanswered before the next address is tried in parallel (RFC
    /// 8305's Connection Attempt Delay; asyncio's happy_eyeballs_delay). nullopt: one attempt at
    /// a time, the next starting only when the previous failed.
    std::optional<std::chrono::milliseconds> connect_attempt_delay = std::chrono::milliseconds(250);
    /// Address interleaving (asyncio's interleave): the first family of the resolver's answer
    /// leads with this many addresses, then the families alternate one address each. 0 keeps
    /// the resolver's order.
    int interleave = 1;
    /// Bind every attempt to this address first (asyncio's local_addr); an attempt to an
    /// address of the other family fails with EAFNOSUPPORT.
    std::optional<endpoint> local_address = std::nullopt;
    /// The address family to resolve the host to (AF_UNSPEC: both).
    int family = AF_UNSPEC;
};

/// Resolves `host` (see resolve()) and connects to one of its addresses with Happy Eyeballs (RFC
/// 8305, as asyncio's open_connection with happy_eyeballs_delay): the addresses are interleaved
/// by family; an attempt starts at once, the next one when the previous has not connected within
/// connect_attempt_delay or as soon as an attempt fails; the first connection wins and the other
/// attempts are cancelled and their sockets closed before this returns. With a single address
/// there is nothing to race: the connect runs in the calling task (no task of its own).
///
/// Cancellation: every attempt is cancelled and closed; nothing is left behind.
/// Errors: dns_error when the host does not resolve; connect_error, listing every attempt with
/// its endpoint and error, when all of them fail.
///
/// Example:
/// @code
/// corio::net::tcp_stream s = co_await corio::net::open_tcp_connection("example.com", 80);
/// @endcode
[[nodiscard]] task<tcp_stream> open_tcp_connection(std::string host, std::uint16_t port,
                                                   happy_eyeballs_options options = {});

/// Happy Eyeballs over addresses already resolved, in the resolver's order (interleaved as
/// options.interleave says).
///
/// Cancellation and errors: as above (connect_error); std::invalid_argument for an empty list.
[[nodiscard]] task<tcp_stream> open_tcp_connection(std::vector<endpoint> addresses,
                                                   happy_eyeballs_options options = {});

/// Reorders addresses as asyncio's _interleave_addrinfos does: grouped by family in order of
/// first appearance, the first family leads with `first_family_count` addresses, then the
/// families take turns. `first_family_count` 0 returns the list unchanged.
///
/// Example: [v6a, v6b, v4a, v4b] with 1 gives [v6a, v4a, v6b, v4b].
[[nodiscard]] std::vector<endpoint> interleave_addresses(std::vector<endpoint> addresses,
                                                         int first_family_count = 1);

} // namespace corio::net

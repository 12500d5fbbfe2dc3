#pragma once

#include "corio/core/task.hpp"
#include "corio/net/endpoint.hpp"
#include "corio/net/resolve.hpp"

#include <string>
#include <vector>

namespace corio::net::detail {

/// What getaddrinfo found: its return code (0, an EAI_* code), errno for EAI_SYSTEM, and the
/// distinct endpoints in the resolver's order.
struct gai_outcome {
    int code = 0;
    int sys_errno = 0;
    std::vector<endpoint> endpoints;
};

/// Calls getaddrinfo; blocks. `host` "" means no host (getaddrinfo's NULL node). Thread-safe.
gai_outcome blocking_getaddrinfo(const std::string& host, const std::string& service,
                                 resolve_options options) noexcept;

/// Runs blocking_getaddrinfo off the loop thread and awaits it.
///
/// It runs on the loop's default executor (corio::to_thread), so lookups share the loop's
/// bounded pool.
///
/// Cancellation: cancelled_error at once; the lookup finishes on its thread and its result is
/// dropped. Errors: std::system_error if no thread could be started; std::runtime_error if the
/// loop's executor has shut down; std::bad_alloc.
task<gai_outcome> getaddrinfo_off_loop(std::string host, std::string service,
                                       resolve_options options);

} // namespace corio::net::detail

#include "net/detail/resolver_thread.hpp"

#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/to_thread.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace corio::net::detail {

gai_outcome blocking_getaddrinfo(const std::string& host, const std::string& service,
                                 resolve_options options) noexcept {
    gai_outcome out;
    addrinfo hints{};
    hints.ai_family = options.family;
    hints.ai_socktype = options.type;
    hints.ai_protocol = options.protocol;
    hints.ai_flags = options.flags;
    addrinfo* list = nullptr;
    errno = 0;
    const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                                 service.empty() ? nullptr : service.c_str(), &hints, &list);
    if (rc != 0) {
        out.code = rc;
        out.sys_errno = rc == EAI_SYSTEM ? errno : 0;
        return out;
    }
    try {
        for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
            if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
                continue;
            const endpoint e = endpoint::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
            if (std::find(out.endpoints.begin(), out.endpoints.end(), e) == out.endpoints.end())
                out.endpoints.push_back(e);
        }
    } catch (...) {
        out.endpoints.clear();
        out.code = EAI_MEMORY;
    }
    ::freeaddrinfo(list);
    return out;
}

task<gai_outcome> getaddrinfo_off_loop(std::string host, std::string service,
                                       resolve_options options) {
    // to_thread's cancellation is the one resolve() documents: the task stops waiting at once
    // and the lookup's result is dropped when it ends.
    auto lookup =
        corio::to_thread(&blocking_getaddrinfo, std::move(host), std::move(service), options);
    co_return co_await lookup;
}

} // namespace corio::net::detail

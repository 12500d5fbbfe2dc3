#include "corio/net/resolve.hpp"

#include "corio/net/ip_address.hpp"

#include "net/detail/resolver_thread.hpp"
#include <netdb.h>

#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

namespace corio::net {

namespace {

/// The port of a numeric service ("" is port 0), or nullopt for a service name.
std::optional<std::uint16_t> numeric_port(std::string_view service) {
    if (service.empty())
        return std::uint16_t{0};
    std::uint16_t port = 0;
    auto [end, ec] = std::from_chars(service.data(), service.data() + service.size(), port);
    if (ec != std::errc() || end != service.data() + service.size())
        return std::nullopt;
    return port;
}

/// RFC 6761 §6.4: "invalid." and the names under it never resolve, and resolvers should say so
/// at once.
bool under_invalid(std::string_view host) {
    if (!host.empty() && host.back() == '.')
        host.remove_suffix(1);
    constexpr std::string_view tld = "invalid";
    if (host.size() < tld.size())
        return false;
    const std::string_view tail = host.substr(host.size() - tld.size());
    for (std::size_t i = 0; i < tld.size(); ++i)
        if ((tail[i] | 0x20) != tld[i])
            return false;
    return host.size() == tld.size() || host[host.size() - tld.size() - 1] == '.';
}

} // namespace

task<std::vector<endpoint>> resolve(std::string host, std::string service,
                                    resolve_options options) {
    // A literal address with a numeric port: getaddrinfo would not ask anyone either, so the
    // answer is computed here, on the loop.
    if (auto address = ip_address::try_parse(host)) {
        if (auto port = numeric_port(service)) {
            if (options.family != AF_UNSPEC && options.family != address->family())
                throw dns_error(EAI_ADDRFAMILY, 0, std::move(host), std::move(service));
            co_return std::vector<endpoint>{endpoint(*address, *port)};
        }
    }
    if (under_invalid(host))
        throw dns_error(EAI_NONAME, 0, std::move(host), std::move(service));
    auto lookup = detail::getaddrinfo_off_loop(host, service, options);
    detail::gai_outcome r = co_await std::move(lookup);
    if (r.code != 0)
        throw dns_error(r.code, r.sys_errno, std::move(host), std::move(service));
    co_return std::move(r.endpoints);
}

task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port, resolve_options options) {
    auto lookup = resolve(std::move(host), std::to_string(port), options);
    co_return co_await std::move(lookup);
}

} // namespace corio::net

#include "corio/net/dns_error.hpp"

#include <netdb.h>

#include <string>

namespace corio::net {

namespace {

class gai_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "getaddrinfo"; }
    std::string message(int code) const override { return ::gai_strerror(code); }
};

std::error_code code_of(int gai_code, int sys_errno) {
    if (gai_code == EAI_SYSTEM && sys_errno != 0)
        return {sys_errno, std::generic_category()};
    return {gai_code, gai_category()};
}

std::string describe(const std::string& host, const std::string& service) {
    std::string s = "resolve ";
    s += host.empty() ? std::string("<no host>") : host;
    if (!service.empty()) {
        const bool numeric = service.find_first_not_of("0123456789") == std::string::npos;
        s += numeric ? " port " : " service ";
        s += service;
    }
    return s;
}

} // namespace

const std::error_category& gai_category() noexcept {
    static const gai_category_impl category;
    return category;
}

dns_error::dns_error(int gai_code, int sys_errno, std::string host, std::string service)
    : std::system_error(code_of(gai_code, sys_errno), describe(host, service)),
      m_host(std::move(host)), m_service(std::move(service)), m_gai_code(gai_code) {}

} // namespace corio::net

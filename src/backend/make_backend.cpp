#include "backend/backend.hpp"
#include "backend/epoll/epoll_backend.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace corio::detail {

std::unique_ptr<backend> make_backend(std::string_view name) {
    if (name.empty()) {
        const char* env = std::getenv("CORIO_BACKEND");
        name = env && *env ? std::string_view(env) : std::string_view("epoll");
    }
    if (name == "epoll")
        return std::make_unique<epoll_backend>();
    throw std::invalid_argument("corio: unknown backend '" + std::string(name) +
                                "' (available: epoll)");
}

} // namespace corio::detail

#include "backend/backend.hpp"
#include "backend/epoll/epoll_backend.hpp"
#ifdef CORIO_HAVE_IO_URING
#include "backend/io_uring/io_uring_backend.hpp"
#endif

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace corio::detail {

namespace {

/// The epoll mode CORIO_EPOLL_MODE asks for ("et" or "lt"; unset or empty: edge-triggered).
epoll_mode epoll_mode_from_environment() {
    const char* env = std::getenv("CORIO_EPOLL_MODE");
    const std::string_view mode = env ? std::string_view(env) : std::string_view();
    if (mode.empty() || mode == "et")
        return epoll_mode::edge;
    if (mode == "lt")
        return epoll_mode::level;
    throw std::invalid_argument("corio: unknown CORIO_EPOLL_MODE '" + std::string(mode) +
                                "' (expected et or lt)");
}

} // namespace

std::unique_ptr<backend> make_backend(std::string_view name) {
    if (name.empty()) {
        const char* env = std::getenv("CORIO_BACKEND");
        name = env && *env ? std::string_view(env) : std::string_view("epoll");
    }
    // "epoll" takes its mode from CORIO_EPOLL_MODE; the suffixed names fix it (the conformance
    // suite and the benchmarks run both).
    if (name == "epoll")
        return std::make_unique<epoll_backend>(epoll_mode_from_environment());
    if (name == "epoll-et")
        return std::make_unique<epoll_backend>(epoll_mode::edge);
    if (name == "epoll-lt")
        return std::make_unique<epoll_backend>(epoll_mode::level);
#ifdef CORIO_HAVE_IO_URING
    if (name == "io_uring")
        return std::make_unique<io_uring_backend>();
#endif
#ifdef CORIO_HAVE_IO_URING
    constexpr const char* available = "epoll, epoll-et, epoll-lt, io_uring";
#else
    constexpr const char* available = "epoll, epoll-et, epoll-lt";
#endif
    throw std::invalid_argument("corio: unknown backend '" + std::string(name) +
                                "' (available: " + available + ")");
}

} // namespace corio::detail

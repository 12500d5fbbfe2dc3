#include "backend/backend.hpp"
#include "backend/epoll/epoll_backend.hpp"
#include <sys/socket.h>

#include <cerrno>
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

std::int64_t backend::try_transfer(io_kind kind, int fd, void* buf, std::size_t len) {
    for (;;) {
        const ssize_t r = kind == io_kind::recv ? ::recv(fd, buf, len, MSG_DONTWAIT)
                                                : ::send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

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
    throw std::invalid_argument("corio: unknown backend '" + std::string(name) +
                                "' (available: epoll, epoll-et, epoll-lt)");
}

} // namespace corio::detail

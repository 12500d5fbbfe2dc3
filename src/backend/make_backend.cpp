#include "backend/backend.hpp"
#include "backend/epoll/epoll_backend.hpp"
#include "backend/poll/poll_backend.hpp"
#include <sys/socket.h>
#ifdef CORIO_HAVE_IO_URING
#include "backend/io_uring/io_uring_backend.hpp"
#endif

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace corio::detail {

namespace {

/// Which of two settings the environment variable `var` asks for: false for `usual` (also when
/// unset or empty), true for `other`. Errors: std::invalid_argument for anything else, naming
/// the variable, its value and both settings.
bool environment_asks_for(const char* var, std::string_view usual, std::string_view other) {
    const char* env = std::getenv(var);
    const std::string_view value = env ? std::string_view(env) : std::string_view();
    if (value.empty() || value == usual)
        return false;
    if (value == other)
        return true;
    throw std::invalid_argument("corio: unknown " + std::string(var) + " '" + std::string(value) +
                                "' (expected " + std::string(usual) + " or " + std::string(other) +
                                ")");
}

/// The epoll mode CORIO_EPOLL_MODE asks for ("et" or "lt"; unset or empty: edge-triggered).
epoll_mode epoll_mode_from_environment() {
    return environment_asks_for("CORIO_EPOLL_MODE", "et", "lt") ? epoll_mode::level
                                                                : epoll_mode::edge;
}

/// The family of a backend name, what backend::name() reports: "epoll-lt" -> "epoll",
/// "io_uring-queued" -> "io_uring".
std::string_view family_of(std::string_view name) noexcept {
    return name.substr(0, name.find('-'));
}

/// Creates the backend `name` as asked, without falling back; nullptr for an unknown name.
std::unique_ptr<backend> create(std::string_view name) {
    // "epoll" takes its mode from CORIO_EPOLL_MODE, and "io_uring" its sends from
    // CORIO_IO_URING_SENDS; the suffixed names fix them (the conformance suite, the test suites
    // and the benchmarks run both).
    if (name == "epoll")
        return std::make_unique<epoll_backend>(epoll_mode_from_environment());
    if (name == "epoll-et")
        return std::make_unique<epoll_backend>(epoll_mode::edge);
    if (name == "epoll-lt")
        return std::make_unique<epoll_backend>(epoll_mode::level);
    if (name == "poll")
        return std::make_unique<poll_backend>();
    if (name == "io_uring")
        return make_io_uring_backend();
    if (name == "io_uring-direct")
        return make_io_uring_backend(io_uring_sends::direct);
    if (name == "io_uring-queued")
        return make_io_uring_backend(io_uring_sends::queued);
    return nullptr;
}

/// True when `e` says that io_uring cannot be used here at all, rather than that something
/// went wrong: no io_uring in the build or the kernel (ENOSYS), or forbidden by seccomp or
/// /proc/sys/kernel/io_uring_disabled (EPERM, EACCES).
bool io_uring_unavailable(const std::system_error& e) noexcept {
    if (e.code().category() != std::generic_category() &&
        e.code().category() != std::system_category())
        return false;
    const int err = e.code().value();
    return err == ENOSYS || err == EPERM || err == EACCES;
}

/// Debug builds say once per process that io_uring was asked for and epoll is used instead.
void notice_fallback([[maybe_unused]] const std::system_error& e) noexcept {
#ifndef NDEBUG
    static std::once_flag once;
    std::call_once(once, [&] {
        std::fprintf(stderr, "corio: io_uring is not available (%s); using epoll\n", e.what());
    });
#endif
}

} // namespace

#ifdef CORIO_HAVE_IO_URING
std::unique_ptr<backend> make_io_uring_backend(io_uring_sends sends) {
    io_uring_options options;
    options.queued_sends = sends == io_uring_sends::from_environment
                               ? environment_asks_for("CORIO_IO_URING_SENDS", "direct", "queued")
                               : sends == io_uring_sends::queued;
    return std::make_unique<io_uring_backend>(options);
}
#else
// This build has no io_uring backend: asking for it falls back to epoll (see make_backend).
std::unique_ptr<backend> make_io_uring_backend(io_uring_sends) {
    throw std::system_error(ENOSYS, std::generic_category(), "io_uring backend not built");
}
#endif

std::unique_ptr<backend> make_backend(std::string_view name) {
    if (name.empty()) {
        const char* env = std::getenv("CORIO_BACKEND");
        name = env && *env ? std::string_view(env) : std::string_view("epoll");
    }
    try {
        if (std::unique_ptr<backend> b = create(name))
            return b;
    } catch (const std::system_error& e) {
        // Only names create() knows get here, so the family is io_uring for each of its names.
        if (family_of(name) != "io_uring" || !io_uring_unavailable(e))
            throw;
        notice_fallback(e);
        return std::make_unique<epoll_backend>(epoll_mode_from_environment());
    }
    std::string known;
    for (const std::string& family : available_backends())
        known += (known.empty() ? "" : ", ") +
                 (family == "epoll"      ? std::string("epoll, epoll-et, epoll-lt")
                  : family == "io_uring" ? std::string("io_uring, io_uring-direct, io_uring-queued")
                                         : family);
    throw std::invalid_argument("corio: unknown backend '" + std::string(name) +
                                "' (available: " + known + ")");
}

std::vector<std::string> available_backends() {
    std::vector<std::string> names;
    // "epoll-et" for epoll: a bad CORIO_EPOLL_MODE is not the machine's fault.
    for (const char* name : {"epoll-et", "io_uring", "poll"}) {
        try {
            (void)create(name);
        } catch (const std::system_error&) {
            continue;
        }
        names.emplace_back(family_of(name));
    }
    return names;
}

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

} // namespace corio::detail

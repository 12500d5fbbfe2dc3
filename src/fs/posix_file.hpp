#pragma once

// The blocking POSIX calls behind fs/, run on a worker thread by fs/blocking_call.hpp. Every
// failure becomes a std::system_error whose message names the operation and the path.

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

namespace corio::fs::detail {

/// Chunk of the whole-file loops: the job checks for a stop request between chunks.
inline constexpr std::size_t chunk_size = std::size_t{4} << 20;

/// "corio::fs: cannot <what> '<path>'" (std::system_error appends ": <strerror>").
inline std::string message(const char* what, const std::filesystem::path& path) {
    std::string m = "corio::fs: cannot ";
    m += what;
    m += " '";
    m += path.string();
    m += '\'';
    return m;
}

[[noreturn]] inline void fail(const char* what, const std::filesystem::path& path,
                              int err = errno) {
    throw std::system_error(err, std::generic_category(), message(what, path));
}

/// An owned file descriptor (closed by the destructor), so that a result nobody takes (its await
/// was cancelled) does not leak.
class unique_fd {
  public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : m_fd(fd) {}
    unique_fd(unique_fd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset();
            m_fd = std::exchange(o.m_fd, -1);
        }
        return *this;
    }
    ~unique_fd() { reset(); }
    [[nodiscard]] int get() const noexcept { return m_fd; }
    int release() noexcept { return std::exchange(m_fd, -1); }
    void reset() noexcept {
        if (m_fd >= 0)
            ::close(std::exchange(m_fd, -1));
    }

  private:
    int m_fd = -1;
};

inline unique_fd open_fd(const std::filesystem::path& path, int flags, unsigned permissions) {
    int fd;
    do
        fd = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(permissions));
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        fail("open", path);
    return unique_fd(fd);
}

/// One read(2) (offset < 0) or pread(2) of at most `len` bytes, retried on EINTR.
inline std::size_t read_some(int fd, void* buf, std::size_t len, off_t offset,
                             const std::filesystem::path& path) {
    if (len == 0)
        return 0;
    len = std::min<std::size_t>(len, 0x7ffff000); // Linux's per-call maximum
    ssize_t n;
    do
        n = offset < 0 ? ::read(fd, buf, len) : ::pread(fd, buf, len, offset);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        fail("read", path);
    return static_cast<std::size_t>(n);
}

/// Writes all `len` bytes with write(2) (offset < 0) or pwrite(2), in chunks of chunk_size,
/// stopping with ECANCELED between chunks when `stop` is set (the caller is being cancelled and
/// throws cancelled_error instead).
inline void write_all(int fd, const void* data, std::size_t len, off_t offset,
                      const std::filesystem::path& path, const std::atomic<bool>& stop) {
    const auto* p = static_cast<const std::byte*>(data);
    while (len > 0) {
        if (stop.load(std::memory_order_relaxed))
            fail("write", path, ECANCELED);
        const std::size_t want = std::min(len, chunk_size);
        ssize_t n = offset < 0 ? ::write(fd, p, want) : ::pwrite(fd, p, want, offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("write", path);
        }
        if (n == 0)
            fail("write", path, EIO); // a regular file never writes nothing; do not spin
        p += n;
        len -= static_cast<std::size_t>(n);
        if (offset >= 0)
            offset += n;
    }
}

} // namespace corio::fs::detail

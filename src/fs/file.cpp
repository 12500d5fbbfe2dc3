#include "corio/fs/file.hpp"

#include "fs/blocking_call.hpp"
#include "fs/posix_file.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace corio::fs {

file::file(file&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_path(std::move(other.m_path)) {}

file& file::operator=(file&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = std::exchange(other.m_fd, -1);
        m_path = std::move(other.m_path);
    }
    return *this;
}

file::~file() {
    if (m_fd >= 0)
        ::close(m_fd);
}

int file::checked_fd() const {
    if (m_fd < 0)
        throw std::logic_error("corio::fs: the file is not open");
    return m_fd;
}

task<file> file::open(std::filesystem::path path, open_mode mode, unsigned permissions) {
    const bool reads = has(mode, open_mode::read);
    const bool writes = has(mode, open_mode::write) || has(mode, open_mode::append);
    if (!reads && !writes)
        throw std::invalid_argument("corio::fs::file::open: the mode needs read, write or append");
    int flags = O_CLOEXEC | (reads && writes ? O_RDWR : writes ? O_WRONLY : O_RDONLY);
    if (has(mode, open_mode::append))
        flags |= O_APPEND;
    if (has(mode, open_mode::create))
        flags |= O_CREAT;
    if (has(mode, open_mode::truncate))
        flags |= O_TRUNC;
    if (has(mode, open_mode::exclusive))
        flags |= O_EXCL;
    auto open_it = [&path, flags, permissions](const std::atomic<bool>&) {
        return detail::open_fd(path, flags, permissions);
    };
    auto op = detail::run_blocking(open_it);
    detail::unique_fd fd = co_await op;
    co_return file(fd.release(), std::move(path));
}

task<std::size_t> file::read(std::span<std::byte> buffer) {
    const int fd = checked_fd();
    auto read_it = [this, fd, buffer](const std::atomic<bool>&) {
        return detail::read_some(fd, buffer.data(), buffer.size(), -1, m_path);
    };
    auto op = detail::run_blocking(read_it);
    co_return co_await op;
}

task<std::size_t> file::pread(std::span<std::byte> buffer, std::uint64_t offset) {
    const int fd = checked_fd();
    if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
        throw std::system_error(EINVAL, std::generic_category(), detail::message("read", m_path));
    auto read_it = [this, fd, buffer, offset](const std::atomic<bool>&) {
        return detail::read_some(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset),
                                 m_path);
    };
    auto op = detail::run_blocking(read_it);
    co_return co_await op;
}

task<void> file::write(std::span<const std::byte> data) {
    const int fd = checked_fd();
    auto write_it = [this, fd, data](const std::atomic<bool>& stop) {
        detail::write_all(fd, data.data(), data.size(), -1, m_path, stop);
    };
    auto op = detail::run_blocking(write_it);
    co_await op;
}

task<void> file::pwrite(std::span<const std::byte> data, std::uint64_t offset) {
    const int fd = checked_fd();
    if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
        throw std::system_error(EINVAL, std::generic_category(), detail::message("write", m_path));
    auto write_it = [this, fd, data, offset](const std::atomic<bool>& stop) {
        detail::write_all(fd, data.data(), data.size(), static_cast<off_t>(offset), m_path, stop);
    };
    auto op = detail::run_blocking(write_it);
    co_await op;
}

task<std::uint64_t> file::size() {
    const int fd = checked_fd();
    auto stat_it = [this, fd](const std::atomic<bool>&) -> std::uint64_t {
        struct stat st {};
        if (::fstat(fd, &st) != 0)
            detail::fail("stat", m_path);
        return static_cast<std::uint64_t>(st.st_size);
    };
    auto op = detail::run_blocking(stat_it);
    co_return co_await op;
}

task<void> file::sync() {
    const int fd = checked_fd();
    auto sync_it = [this, fd](const std::atomic<bool>&) {
        if (::fsync(fd) != 0)
            detail::fail("sync", m_path);
    };
    auto op = detail::run_blocking(sync_it);
    co_await op;
}

task<void> file::close() {
    if (m_fd < 0)
        co_return;
    // The descriptor is given up before the call: close(2) releases it even when it reports an
    // error, and a cancelled close must not be retried on a number the process may reuse.
    detail::unique_fd fd(std::exchange(m_fd, -1));
    auto close_it = [&fd, this](const std::atomic<bool>&) {
        if (::close(fd.release()) != 0 && errno != EINTR)
            detail::fail("close", m_path);
    };
    auto op = detail::run_blocking(close_it);
    co_await op;
}

} // namespace corio::fs

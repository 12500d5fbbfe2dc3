#include "corio/fs/files.hpp"

#include "fs/blocking_call.hpp"
#include "fs/posix_file.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <string>

namespace corio::fs {

namespace {

// Reads `fd` to its end. The size from fstat is only a hint (files in /proc say 0, a file may
// grow meanwhile): the loop reads until read(2) returns 0.
std::string read_to_end(int fd, const std::filesystem::path& path, const std::atomic<bool>& stop) {
    std::string out;
    struct stat st {};
    std::size_t capacity = 4096;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        capacity = static_cast<std::size_t>(st.st_size) + 1; // +1: the read that sees the end
    std::size_t used = 0;
    out.resize(capacity);
    for (;;) {
        if (used == out.size())
            out.resize(out.size() * 2);
        const std::size_t want = std::min(out.size() - used, detail::chunk_size);
        const std::size_t n = detail::read_some(fd, out.data() + used, want, -1, path);
        if (n == 0)
            break;
        used += n;
        // Between chunks: stop when the awaiter is being cancelled (the result is dropped).
        if (stop.load(std::memory_order_relaxed))
            detail::fail("read", path, ECANCELED);
    }
    out.resize(used);
    return out;
}

// A close whose error is reported: for writes, close(2) can be where a delayed write error of a
// network file system shows up.
void close_checked(detail::unique_fd& fd, const std::filesystem::path& path) {
    if (::close(fd.release()) != 0 && errno != EINTR)
        detail::fail("close", path);
}

void write_whole(const std::filesystem::path& path, std::string_view data, int flags,
                 const std::atomic<bool>& stop) {
    detail::unique_fd fd = detail::open_fd(path, flags, 0666);
    detail::write_all(fd.get(), data.data(), data.size(), -1, path, stop);
    close_checked(fd, path);
}

std::string temp_name_for(const std::filesystem::path& path) {
    // Random enough that two writers (threads or processes) do not pick the same name; O_EXCL
    // catches the rare collision, and the caller tries again.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, ".tmp-%012llx",
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    return path.filename().string() + suffix;
}

void write_atomic(const std::filesystem::path& path, std::string_view data,
                  const std::atomic<bool>& stop) {
    if (path.filename().empty())
        detail::fail("write", path, EISDIR);
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
    std::filesystem::path temp;
    detail::unique_fd fd;
    for (int attempt = 0;; ++attempt) {
        temp = dir / temp_name_for(path);
        try {
            fd = detail::open_fd(temp, O_WRONLY | O_CREAT | O_EXCL, 0666);
            break;
        } catch (const std::system_error& e) {
            if (e.code().value() != EEXIST || attempt == 8)
                detail::fail("write", path, e.code().value()); // name the target, not the temp
        }
    }
    try {
        detail::write_all(fd.get(), data.data(), data.size(), -1, path, stop);
        if (::fsync(fd.get()) != 0)
            detail::fail("sync", path);
        close_checked(fd, path);
        if (stop.load(std::memory_order_relaxed))
            detail::fail("write", path, ECANCELED);
        if (::rename(temp.c_str(), path.c_str()) != 0)
            detail::fail("rename a temporary file over", path);
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    // Make the rename itself durable. A directory that cannot be opened or synced (some file
    // systems refuse fsync on directories) does not undo a rename that has happened.
    detail::unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() >= 0)
        ::fsync(dfd.get());
}

} // namespace

task<std::string> read_file(std::filesystem::path path) {
    auto read_it = [&path](const std::atomic<bool>& stop) {
        detail::unique_fd fd = detail::open_fd(path, O_RDONLY, 0);
        return read_to_end(fd.get(), path, stop);
    };
    auto op = detail::run_blocking(read_it);
    co_return co_await op;
}

task<void> write_file(std::filesystem::path path, std::string_view data) {
    auto write_it = [&path, data](const std::atomic<bool>& stop) {
        write_whole(path, data, O_WRONLY | O_CREAT | O_TRUNC, stop);
    };
    auto op = detail::run_blocking(write_it);
    co_await op;
}

task<void> write_file_atomic(std::filesystem::path path, std::string_view data) {
    auto write_it = [&path, data](const std::atomic<bool>& stop) {
        write_atomic(path, data, stop);
    };
    auto op = detail::run_blocking(write_it);
    co_await op;
}

task<void> append_file(std::filesystem::path path, std::string_view data) {
    auto append_it = [&path, data](const std::atomic<bool>& stop) {
        write_whole(path, data, O_WRONLY | O_CREAT | O_APPEND, stop);
    };
    auto op = detail::run_blocking(append_it);
    co_await op;
}

} // namespace corio::fs

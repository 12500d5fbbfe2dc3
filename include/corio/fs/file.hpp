#pragma once

#include "corio/core/task.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace corio::fs {

/// How fs::file::open opens a file: an access mode (read, write or both) plus the flags below,
/// combined with `|`. They map onto open(2)'s O_RDONLY/O_WRONLY/O_RDWR, O_APPEND, O_CREAT,
/// O_TRUNC and O_EXCL; every file is opened with O_CLOEXEC.
enum class open_mode : unsigned {
    read = 1u << 0,     ///< open for reading
    write = 1u << 1,    ///< open for writing
    append = 1u << 2,   ///< every write goes to the end of the file (implies write)
    create = 1u << 3,   ///< create the file if it does not exist
    truncate = 1u << 4, ///< empty the file on open
    exclusive = 1u << 5 ///< with create: fail with EEXIST if the file exists
};

[[nodiscard]] constexpr open_mode operator|(open_mode a, open_mode b) noexcept {
    return static_cast<open_mode>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
[[nodiscard]] constexpr bool has(open_mode set, open_mode flag) noexcept {
    return (static_cast<unsigned>(set) & static_cast<unsigned>(flag)) != 0;
}

/// An open regular file whose blocking system calls (open, read, write, pread, pwrite, fstat,
/// fsync, close) run on the running loop's default executor (corio::to_thread's thread pool),
/// so that a slow disk never holds up the event loop. Move-only; owns its file descriptor.
///
/// Why the thread pool and not io_uring: the backend interface has no file offset (its read and
/// write use the file position), and open, fstat, fsync and close are not backend operations,
/// so io_uring could carry only part of a file operation while the rest still needed the pool.
/// One pool hop per operation does all of it. See docs/fs.md.
///
/// Concurrency: one read() or write() at a time per file (they share the file position);
/// pread() and pwrite() may overlap freely. Do not move, close or destroy a file while one of
/// its operations is pending.
///
/// Cancellation (every operation): an operation whose system call has not started is dropped
/// and never runs. One whose system call is running is not interrupted: the cancellation waits
/// for that call to return (a read or write of the remaining chunk, at most 4 MiB), so the
/// caller's buffer is never touched after the await ends, then throws corio::cancelled_error.
/// The file is left as the call left it (bytes written stay written; bytes read are lost and the
/// file position has moved past them).
///
/// Errors: std::system_error carrying the errno, whose message names the operation and the path,
/// e.g. "corio::fs: cannot open 'x': No such file or directory"; std::logic_error when the file
/// is not open, or outside a task run by an event_loop; std::bad_alloc.
///
/// Example:
/// @code
/// auto f = co_await corio::fs::file::open("data.bin", open_mode::read | open_mode::write |
///                                                      open_mode::create);
/// co_await f.pwrite(std::as_bytes(std::span(header)), 0);
/// std::uint64_t n = co_await f.size();
/// co_await f.sync();
/// co_await f.close();
/// @endcode
class file {
  public:
    /// A file that is not open.
    file() noexcept = default;
    file(file&& other) noexcept;
    file& operator=(file&& other) noexcept;
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    /// Closes the descriptor if it is still open, synchronously on the calling thread (close(2)
    /// of a local file does not block; call close() to run it on the pool and see its errors).
    ~file();

    /// Opens `path` with `mode`; a created file gets `permissions` (minus the umask).
    /// Cancellation: see the class; a file opened by a call that was cancelled is closed again.
    /// Errors: std::system_error ("corio::fs: cannot open 'path': ..."); std::invalid_argument
    /// if `mode` has neither read, write nor append.
    [[nodiscard]] static task<file> open(std::filesystem::path path, open_mode mode,
                                         unsigned permissions = 0666);

    /// Reads at most `buffer.size()` bytes at the file position and advances it. Returns the
    /// number of bytes read, 0 at the end of the file (or for an empty buffer).
    /// Errors: std::system_error ("cannot read").
    [[nodiscard]] task<std::size_t> read(std::span<std::byte> buffer);
    /// Writes all of `data` at the file position (at the end with open_mode::append), retrying
    /// short writes. Errors: std::system_error ("cannot write"), e.g. ENOSPC.
    [[nodiscard]] task<void> write(std::span<const std::byte> data);
    /// Reads at most `buffer.size()` bytes at `offset`, without moving the file position.
    /// Returns the number read; 0 at or past the end of the file.
    /// Errors: std::system_error ("cannot read").
    [[nodiscard]] task<std::size_t> pread(std::span<std::byte> buffer, std::uint64_t offset);
    /// Writes all of `data` at `offset`, without moving the file position (Linux ignores the
    /// offset of a file opened with open_mode::append). Errors: std::system_error
    /// ("cannot write").
    [[nodiscard]] task<void> pwrite(std::span<const std::byte> data, std::uint64_t offset);
    /// The file's size in bytes (fstat). Errors: std::system_error ("cannot stat").
    [[nodiscard]] task<std::uint64_t> size();
    /// Flushes the file's data and metadata to the device (fsync). Errors: std::system_error
    /// ("cannot sync").
    [[nodiscard]] task<void> sync();
    /// Closes the file; afterwards is_open() is false, even if close(2) reported an error.
    /// Closing a file that is not open does nothing. Errors: std::system_error ("cannot close"),
    /// e.g. a delayed write error of a network file system.
    [[nodiscard]] task<void> close();

    /// True between a successful open() and close() (or a move away).
    [[nodiscard]] bool is_open() const noexcept { return m_fd >= 0; }
    /// The file descriptor, -1 if not open. Still owned by the file.
    [[nodiscard]] int native_handle() const noexcept { return m_fd; }
    /// The path the file was opened with (for messages).
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return m_path; }

  private:
    file(int fd, std::filesystem::path path) noexcept : m_fd(fd), m_path(std::move(path)) {}
    int checked_fd() const;

    int m_fd = -1;
    std::filesystem::path m_path;
};

} // namespace corio::fs

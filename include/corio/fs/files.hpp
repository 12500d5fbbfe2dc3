#pragma once

#include "corio/core/task.hpp"

#include <filesystem>
#include <string>
#include <string_view>

/// Whole-file helpers: one thread-pool job per call does the open, the reads or writes and the
/// close, so a call costs one hop to a worker thread and back (see fs/file.hpp for the reason
/// files use the pool rather than io_uring, and docs/fs.md).
///
/// Common to all of them:
///
/// Cancellation: a call whose job has not started never touches the file. A job that is running
/// is asked to stop between chunks (4 MiB), and the cancellation waits for it to stop, so no
/// work outlives the await; then corio::cancelled_error is thrown. What the file holds then is
/// said per function.
///
/// Errors: std::system_error carrying the errno, with a message that names the path, e.g.
/// "corio::fs: cannot open 'headers.txt': Permission denied"; std::logic_error outside a task
/// run by an event_loop; std::bad_alloc.
///
/// `data` arguments are views: the bytes must stay valid until the returned task has finished
/// (awaiting it at once, as usual, guarantees that).
namespace corio::fs {

/// Reads the whole file `path` (a regular file, or anything read(2) can read to its end, such as
/// /proc files) into a string. Cancellation: nothing is lost but the work.
///
/// Example: `std::string text = co_await corio::fs::read_file("headers.txt");`
[[nodiscard]] task<std::string> read_file(std::filesystem::path path);

/// Writes `data` to `path`, creating the file (mode 0666 minus the umask) or truncating it
/// first, like Python's open(path, 'w').write(data). Not atomic: a reader may see the file empty
/// or half written, and a crash or a cancellation can leave it so (use write_file_atomic).
///
/// Example: `co_await corio::fs::write_file("headers.txt", formatted_headers);`
[[nodiscard]] task<void> write_file(std::filesystem::path path, std::string_view data);

/// Writes `data` to `path` atomically: into a new temporary file in the same directory
/// ("<name>.tmp-<random>"), flushed with fsync, then renamed over `path`, and the directory
/// flushed. Readers see the old content or the new one, never a mix, even after a crash. A
/// failure or a cancellation removes the temporary file and leaves `path` as it was. The new
/// file gets mode 0666 minus the umask (not the old file's mode). Costs two fsyncs.
[[nodiscard]] task<void> write_file_atomic(std::filesystem::path path, std::string_view data);

/// Appends `data` to `path` (created if missing), like Python's open(path, 'a').write(data).
/// The file is opened with O_APPEND and written with as few write(2) calls as possible (one for
/// up to 4 MiB), so on a local Linux file system concurrent appends of up to 4 MiB each do not
/// interleave. Cancellation: a prefix of `data` may have been appended.
[[nodiscard]] task<void> append_file(std::filesystem::path path, std::string_view data);

} // namespace corio::fs

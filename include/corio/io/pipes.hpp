#pragma once

#include "corio/io/stream_options.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"

namespace corio {

/// A stream_reader over the read end of a pipe, FIFO, tty, character device or regular file
/// (asyncio's connect_read_pipe with a StreamReader). The stream takes `fd` and closes it when
/// the last handle goes. Call it in a task of the loop that will read.
///
/// `fd` is made non-blocking (and close-on-exec). O_NONBLOCK belongs to the open file
/// description, so every process and fd sharing it (a terminal shared with the parent shell, a
/// dup of the fd) sees it too, as with asyncio; connect_stdin() dups the fd but shares the
/// description all the same.
///
/// Reads: as stream_reader's; the end of the stream (every writer closed the pipe) reads as "".
/// Cancellation: nothing is lost (see stream_reader).
/// Errors: std::logic_error outside a running event loop; std::invalid_argument for fd < 0;
/// std::system_error if fcntl fails (EBADF) or, at the first read that has to wait, if the
/// backend cannot watch the fd.
///
/// Example:
/// @code
/// corio::stream_reader in = corio::connect_read_pipe(fds[0]);
/// while (auto line = co_await in.next_line())
///     handle(*line);
/// @endcode
[[nodiscard]] stream_reader connect_read_pipe(int fd, stream_options options = {});

/// A stream_writer over the write end of a pipe, FIFO, tty, character device or regular file
/// (asyncio's connect_write_pipe with a StreamWriter). The stream takes `fd`; close() (or the
/// last handle going) flushes what is buffered and closes it, which is the reader's end of the
/// stream. write_eof() does the same (can_write_eof() is true).
///
/// SIGPIPE: a write whose reader has gone fails with std::system_error(EPIPE) (the stream then
/// fails). So that it never kills the process, the first write pipe corio makes sets SIGPIPE to
/// SIG_IGN process-wide if its action was SIG_DFL (what Python does at start-up); a handler or
/// action the program set itself is left alone. Children spawned by corio get SIG_DFL back.
///
/// O_NONBLOCK: as connect_read_pipe.
/// Cancellation: as stream_writer's (bytes written are not withdrawn; only the wait ends).
/// Errors: as connect_read_pipe; writes: std::system_error (EPIPE...).
[[nodiscard]] stream_writer connect_write_pipe(int fd, stream_options options = {});

/// A stream_reader over the process's standard input: connect_read_pipe over a dup of fd 0
/// (closing the stream leaves fd 0 open). For line-based tools:
/// @code
/// corio::stream_reader in = corio::connect_stdin();
/// corio::stream_writer out = corio::connect_stdout();
/// while (auto line = co_await in.next_line())
///     co_await out.write(*line);
/// @endcode
/// Note that fd 0 becomes non-blocking (shared file description). A regular file redirected to
/// stdin works too (its reads never wait).
/// Errors: as connect_read_pipe; std::system_error if fd 0 is closed.
[[nodiscard]] stream_reader connect_stdin(stream_options options = {});

/// A stream_writer over the process's standard output: connect_write_pipe over a dup of fd 1.
/// fd 1 becomes non-blocking: stdio (printf) on the same stdout may then fail with EAGAIN when
/// the reader is slow; use this stream for all output of the program, or flush stdio first.
/// Errors: as connect_write_pipe; std::system_error if fd 1 is closed.
[[nodiscard]] stream_writer connect_stdout(stream_options options = {});

} // namespace corio

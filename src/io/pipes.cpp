#include "corio/io/pipes.hpp"

#include "corio/io/streams.hpp"
#include "corio/runtime/event_loop.hpp"

#include "io/pipe_transport.hpp"
#include "sys/posix/socket.hpp"
#include "sys/posix/unique_fd.hpp"
#include <fcntl.h>

#include <memory>
#include <stdexcept>
#include <utility>

namespace corio {

namespace {

event_loop& running_loop(const char* what) {
    event_loop* loop = event_loop::current();
    if (!loop)
        throw std::logic_error(std::string("corio::") + what + ": no running event loop");
    return *loop;
}

streams pipe_streams(int fd, bool writable, const stream_options& options, const char* what) {
    event_loop& loop = running_loop(what);
    if (fd < 0)
        throw std::invalid_argument(std::string("corio::") + what + ": invalid fd");
    sys::unique_fd owned(fd);
    sys::make_nonblocking_cloexec(fd);
    auto t = std::make_unique<detail::pipe_transport>(loop, std::move(owned), writable);
    return make_streams(std::move(t), options);
}

int dup_std(int fd, const char* what) {
    const int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0)
        sys::throw_last_errno(what);
    return d;
}

} // namespace

stream_reader connect_read_pipe(int fd, stream_options options) {
    return pipe_streams(fd, false, options, "connect_read_pipe").reader;
}

stream_writer connect_write_pipe(int fd, stream_options options) {
    return pipe_streams(fd, true, options, "connect_write_pipe").writer;
}

stream_reader connect_stdin(stream_options options) {
    running_loop("connect_stdin");
    return connect_read_pipe(dup_std(0, "dup of stdin"), options);
}

stream_writer connect_stdout(stream_options options) {
    running_loop("connect_stdout");
    return connect_write_pipe(dup_std(1, "dup of stdout"), options);
}

} // namespace corio

#include "corio/net/sock.hpp"

#include "sys/posix/errors.hpp"
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

namespace corio::net {

task<std::vector<std::byte>> sock_recv(int fd, std::size_t n) {
    std::vector<std::byte> buf(n);
    const std::size_t got = co_await sock_recv_into(fd, buf);
    buf.resize(got);
    co_return buf;
}

task<void> sock_sendall(int fd, std::span<const std::byte> data, std::size_t* sent) {
    std::size_t done = 0;
    if (sent)
        *sent = 0;
    while (done < data.size()) {
        done += co_await sock_send(fd, data.subspan(done));
        if (sent)
            *sent = done;
    }
}

task<std::pair<std::vector<std::byte>, socket_address>> sock_recvfrom(int fd, std::size_t n) {
    std::vector<std::byte> buf(n);
    datagram d = co_await sock_recvfrom_into(fd, buf);
    buf.resize(d.size);
    co_return std::pair<std::vector<std::byte>, socket_address>(std::move(buf), d.from);
}

task<std::size_t> sock_sendfile(int out_fd, int in_fd, std::uint64_t offset,
                                std::optional<std::size_t> count, std::size_t* sent) {
    return detail::sendfile_on(nullptr, out_fd, in_fd, offset, count, sent);
}

namespace detail {

namespace {

/// sendfile(2) with SIGPIPE blocked: a peer that has gone makes the call fail with EPIPE and
/// raise SIGPIPE, which has no MSG_NOSIGNAL here. The signal the call raised is consumed before
/// the mask is restored; one that was already pending stays pending.
ssize_t sendfile_nosignal(int out_fd, int in_fd, off_t* offset, std::size_t n, int& err) {
    sigset_t pipe_set;
    sigset_t old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    sigemptyset(&pending);
    const bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    ssize_t r;
    do
        r = ::sendfile(out_fd, in_fd, offset, n);
    while (r < 0 && errno == EINTR);
    err = r < 0 ? errno : 0;
    if (r < 0 && err == EPIPE && !was_pending) {
        const timespec zero{};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return r;
}

} // namespace

task<std::size_t> sendfile_on(net::socket* owner, int out_fd, int in_fd, std::uint64_t offset,
                              std::optional<std::size_t> count, std::size_t* sent) {
    // Large enough to keep the socket buffer full, small enough that off_t never overflows.
    constexpr std::size_t max_chunk = std::size_t(1) << 30;
    std::size_t total = 0;
    auto off = static_cast<off_t>(offset);
    if (sent)
        *sent = 0;
    while (!count || total < *count) {
        const std::size_t chunk = count ? std::min(*count - total, max_chunk) : max_chunk;
        int err = 0;
        const ssize_t n = sendfile_nosignal(out_fd, in_fd, &off, chunk, err);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            if (sent)
                *sent = total;
            continue;
        }
        if (n == 0)
            break; // end of the file
        if (err == EAGAIN) {
            poll_awaiter w(io_op::poll_writable, owner, out_fd);
            co_await w;
            continue;
        }
        std::string what = "sendfile";
        if (owner) {
            try {
                what += " to " + owner->peer_endpoint().to_string();
            } catch (...) {
            }
        }
        throw std::system_error(err, std::generic_category(), what);
    }
    co_return total;
}

} // namespace detail

} // namespace corio::net

// Cost of an echo round trip driven directly through the I/O backend, without tasks: the
// backend's own overhead over the syscalls it makes.
//
// A "client" end sends a 64-byte message and posts a recv; the "server" end has a recv posted,
// and its completion callback sends the message back and posts the next recv, as an echo
// server does. One iteration is one round trip: ns_per_op is per round trip, and `waits` counts
// backend waits (epoll_wait calls) per round trip. Both ends live in the same backend, over a
// Unix socket pair or a TCP connection on loopback, for each epoll mode (edge- and
// level-triggered). BM_raw_epoll_* is the same exchange written by hand against epoll, the
// floor the backend is measured against.
//
// Syscalls per round trip, counted with
//   strace -f -c build/release/bench/corio_bench_backend_bench
//       --benchmark_filter=socketpair_et --benchmark_min_time=20000x
// (one command line)
// are reported in the issue note for the backend (2 sends, 2 recvs, 2 epoll_waits expected).

// The backend interface is private to the library (src/): the benchmark drives it directly.
#include "../../src/backend/backend.hpp"
#include "bench_common.hpp"
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>

namespace {

using corio::detail::io_kind;
using corio::detail::io_operation;

constexpr std::size_t message_size = 64;

/// Two connected non-blocking sockets, closed on destruction.
struct socket_pair_fds {
    int client = -1;
    int server = -1;
    socket_pair_fds() = default;
    socket_pair_fds(const socket_pair_fds&) = delete;
    socket_pair_fds& operator=(const socket_pair_fds&) = delete;
    ~socket_pair_fds() {
        if (client >= 0)
            ::close(client);
        if (server >= 0)
            ::close(server);
    }
};

enum class transport { socketpair, tcp };

bool connect_pair(transport t, socket_pair_fds& out) {
    if (t == transport::socketpair) {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
            return false;
        out.client = fds[0];
        out.server = fds[1];
        return true;
    }
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0)
        return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bool ok = ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
              ::listen(listener, 1) == 0 &&
              ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    if (ok) {
        out.client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = out.client >= 0 &&
             ::connect(out.client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    if (ok) {
        out.server = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        ok = out.server >= 0;
    }
    ::close(listener);
    if (!ok)
        return false;
    const int one = 1;
    ::setsockopt(out.client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(out.server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int flags = ::fcntl(out.client, F_GETFL);
    return ::fcntl(out.client, F_SETFL, flags | O_NONBLOCK) == 0;
}

struct echo_server;

/// An operation of the echo server, which its completion callback finds through `owner`.
struct server_op : io_operation {
    echo_server* owner = nullptr;
};

/// The echo server side: its recv's completion sends the bytes back and posts the next recv.
struct echo_server {
    corio::detail::backend* b = nullptr;
    server_op recv{};
    server_op send{};
    std::array<char, 4096> buf{};
    bool failed = false;
    bool send_pending = false;

    void post_recv() {
        recv.m_kind = io_kind::recv;
        recv.m_buf = buf.data();
        recv.m_len = buf.size();
        // A short read completes at once only on the first round trip; afterwards the backend
        // knows the socket is drained and queues the recv without a syscall.
        while (b->submit(recv)) {
            if (!echo(recv.m_result))
                return;
        }
    }
    /// Sends `n` bytes back; false to stop re-posting.
    bool echo(std::int64_t n) {
        if (n <= 0) {
            failed = true;
            return false;
        }
        send.m_kind = io_kind::send;
        send.m_buf = buf.data();
        send.m_len = static_cast<std::size_t>(n);
        if (!b->submit(send)) {
            send_pending = true; // 64 bytes never fill a socket buffer here
            failed = true;
            return false;
        }
        if (send.m_result != n)
            failed = true;
        return !failed;
    }
    static void on_recv(io_operation* op) noexcept {
        echo_server* self = static_cast<server_op*>(op)->owner;
        if (self->echo(op->m_result))
            self->post_recv();
    }
    static void on_send(io_operation* op) noexcept {
        echo_server* self = static_cast<server_op*>(op)->owner;
        self->send_pending = false;
    }
};

struct client_recv : io_operation {
    bool done = false;
};

void BM_backend_ping_pong(benchmark::State& state, const char* backend_name, transport t) {
    socket_pair_fds fds;
    if (!connect_pair(t, fds)) {
        state.SkipWithError("could not connect a socket pair");
        return;
    }
    std::unique_ptr<corio::detail::backend> b = corio::detail::make_backend(backend_name);
    echo_server server;
    server.b = b.get();
    server.recv.owner = server.send.owner = &server;
    server.recv.m_fd = server.send.m_fd = fds.server;
    server.recv.m_complete = &echo_server::on_recv;
    server.send.m_complete = &echo_server::on_send;
    server.post_recv();

    std::array<char, message_size> ping{};
    std::memset(ping.data(), 'p', ping.size());
    std::array<char, 4096> pong{};
    io_operation send{};
    send.m_kind = io_kind::send;
    send.m_fd = fds.client;
    send.m_buf = ping.data();
    send.m_len = ping.size();
    send.m_complete = [](io_operation*) noexcept {};
    client_recv recv{};
    recv.m_kind = io_kind::recv;
    recv.m_fd = fds.client;
    recv.m_complete = [](io_operation* op) noexcept { static_cast<client_recv*>(op)->done = true; };
    std::int64_t waits = 0;

    for (auto _ : state) {
        if (!b->submit(send) || send.m_result != static_cast<std::int64_t>(ping.size())) {
            state.SkipWithError("the client's send did not complete at once");
            break;
        }
        std::size_t got = 0;
        while (got < ping.size()) {
            recv.m_buf = pong.data();
            recv.m_len = pong.size();
            recv.done = false;
            if (!b->submit(recv)) {
                while (!recv.done && !server.failed) {
                    b->wait(std::chrono::seconds(5));
                    ++waits;
                }
            }
            if (server.failed || recv.m_result <= 0)
                break;
            got += static_cast<std::size_t>(recv.m_result);
        }
        if (server.failed || got != ping.size()) {
            state.SkipWithError("the echo failed");
            break;
        }
    }
    if (!server.failed)
        b->cancel(server.recv);
    b->forget_fd(fds.client);
    b->forget_fd(fds.server);
    corio_bench::report_ops(state, 1);
    state.counters["waits"] =
        benchmark::Counter(static_cast<double>(waits), benchmark::Counter::kAvgIterations);
}

BENCHMARK_CAPTURE(BM_backend_ping_pong, socketpair_et, "epoll-et", transport::socketpair);
BENCHMARK_CAPTURE(BM_backend_ping_pong, socketpair_lt, "epoll-lt", transport::socketpair);
BENCHMARK_CAPTURE(BM_backend_ping_pong, tcp_et, "epoll-et", transport::tcp);
BENCHMARK_CAPTURE(BM_backend_ping_pong, tcp_lt, "epoll-lt", transport::tcp);

/// The same exchange written by hand: both fds registered once, edge-triggered; each side
/// reads once (a short read means drained) and writes once.
void BM_raw_epoll_ping_pong(benchmark::State& state, transport t) {
    socket_pair_fds fds;
    if (!connect_pair(t, fds)) {
        state.SkipWithError("could not connect a socket pair");
        return;
    }
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    for (int fd : {fds.client, fds.server}) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    std::array<char, message_size> ping{};
    std::memset(ping.data(), 'p', ping.size());
    std::array<char, 4096> buf{};
    epoll_event events[16];
    bool failed = false;
    for (auto _ : state) {
        if (::send(fds.client, ping.data(), ping.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(ping.size())) {
            failed = true;
            break;
        }
        bool back = false;
        while (!back && !failed) {
            const int n = ::epoll_wait(ep, events, 16, 5000);
            if (n <= 0)
                failed = true;
            for (int i = 0; i < n; ++i) {
                if (!(events[i].events & EPOLLIN))
                    continue;
                const int fd = events[i].data.fd;
                const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
                if (r <= 0) {
                    failed = r == 0 || errno != EAGAIN;
                    continue;
                }
                if (fd == fds.server) {
                    if (::send(fd, buf.data(), static_cast<std::size_t>(r), MSG_NOSIGNAL) != r)
                        failed = true;
                } else {
                    back = true;
                }
            }
        }
        if (failed)
            break;
    }
    if (failed)
        state.SkipWithError("the echo failed");
    ::close(ep);
    corio_bench::report_ops(state, 1);
}

BENCHMARK_CAPTURE(BM_raw_epoll_ping_pong, socketpair, transport::socketpair);
BENCHMARK_CAPTURE(BM_raw_epoll_ping_pong, tcp, transport::tcp);

} // namespace

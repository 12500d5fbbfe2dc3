// The backend conformance suite, part 2: the calls (recv, send, read, write, accept, connect,
// recvmsg, sendmsg). Whether a call completes at once is the backend's business (readiness
// backends try it first, io_uring never does): these tests hold for either, and check results,
// order, cancellation and errors. The epoll specifics are in epoll_backend_test.cpp.

#include "backend/backend.hpp"
#include "backend_test_support.hpp"
#include "support/loop_helpers.hpp"
#include "support/socket_helpers.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::test::drive;
using corio::test::io_kind;
using corio::test::run_op;
using corio::test::set_buffer;
using corio::test::settle;
using corio::test::start;
using corio::test::test_op;
using corio::test::unique_fd;

void write_all(int fd, std::string_view s) {
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

std::string read_now(int fd, std::size_t max = 4096) {
    std::string s(max, '\0');
    const ssize_t n = ::read(fd, s.data(), s.size());
    s.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return s;
}

/// Waits with poll(2) until `fd` reports `events` (at most 5 s).
bool poll_for(int fd, short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, 5000) == 1;
}

std::string text(const char* buf, std::int64_t n) {
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

/// A msghdr over one buffer, with the address of the peer when `name` is given: for recvmsg
/// and sendmsg.
struct one_buffer_msg {
    iovec iov;
    msghdr msg{};

    one_buffer_msg(void* buf, std::size_t len, void* name = nullptr, socklen_t namelen = 0)
        : iov{buf, len} {
        msg.msg_name = name;
        msg.msg_namelen = namelen;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
    }
    one_buffer_msg(const one_buffer_msg&) = delete;
    one_buffer_msg& operator=(const one_buffer_msg&) = delete;
};

/// Points an accept (where the peer's address goes; `len` in/out) or a connect (the address to
/// reach) at `address`.
void set_address(test_op& op, sockaddr_in& address, socklen_t& len) {
    op.m_addr = reinterpret_cast<sockaddr*>(&address);
    op.m_addrlen = &len;
}

/// Empties `fd` a few times while the backend runs, and returns the bytes taken out: all that
/// was written to its peer, for a peer whose cancelled write must have written nothing.
std::size_t drain_while_running(corio::detail::backend& b, int fd) {
    std::size_t drained = 0;
    for (int i = 0; i < 5; ++i) {
        drained += corio::test::drain(fd);
        settle(b, 2ms);
    }
    return drained;
}

/// SIGPIPE at its default action (which kills the process) for the lifetime of the object.
class default_sigpipe {
  public:
    default_sigpipe() {
        struct sigaction sa {};
        sa.sa_handler = SIG_DFL;
        ::sigaction(SIGPIPE, &sa, &m_old);
    }
    default_sigpipe(const default_sigpipe&) = delete;
    default_sigpipe& operator=(const default_sigpipe&) = delete;
    ~default_sigpipe() { ::sigaction(SIGPIPE, &m_old, nullptr); }

  private:
    struct sigaction m_old {};
};

/// Every test gets a fresh backend of the parameter's name, `b`, destroyed after the test's own
/// sockets (as a local made first would be).
class BackendSocketOps : public testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        if (!corio::test::backend_available(GetParam()))
            GTEST_SKIP() << GetParam() << " is not available here";
        b = make();
    }
    std::unique_ptr<corio::detail::backend> make() const {
        return corio::detail::make_backend(GetParam());
    }

    /// The backend under test (named like the locals of the other backend suites).
    std::unique_ptr<corio::detail::backend> b;
};

// ----------------------------------------------------------------------- recv and send ---

TEST_P(BackendSocketOps, RecvCompletesWithTheDataAlreadyWaiting) {
    auto s = corio::test::make_socket_pair();
    write_all(s.second.get(), "hello");
    char buf[100];
    test_op op(io_kind::recv, s.first.get(), buf, sizeof buf);
    EXPECT_EQ(run_op(*b, op), 5);
    EXPECT_EQ(text(buf, op.m_result), "hello");
    EXPECT_LE(op.completions, 1);
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendSocketOps, RecvWaitsForDataThenCompletes) {
    auto s = corio::test::make_socket_pair();
    char buf[100];
    test_op op(io_kind::recv, s.first.get(), buf, sizeof buf);
    EXPECT_FALSE(start(*b, op)) << "there is nothing to read yet";
    EXPECT_TRUE(b->has_pending());
    b->wait(0ns);
    EXPECT_FALSE(op.done);
    write_all(s.second.get(), "abc");
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_EQ(op.completions, 1);
    EXPECT_EQ(text(buf, op.m_result), "abc");
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendSocketOps, SendCompletesWithTheBytesWritten) {
    auto s = corio::test::make_socket_pair();
    char msg[] = "ping";
    test_op op(io_kind::send, s.first.get(), msg, 4);
    EXPECT_EQ(run_op(*b, op), 4);
    EXPECT_EQ(read_now(s.second.get()), "ping");
}

TEST_P(BackendSocketOps, ASendOnAFullSocketWaitsUntilThePeerReads) {
    auto s = corio::test::make_socket_pair();
    corio::test::set_buffer_sizes(s.first.get(), 4096);
    ASSERT_GT(corio::test::fill(s.first.get()), 0u);
    std::vector<char> data(1000, 's');
    test_op op(io_kind::send, s.first.get(), data.data(), data.size());
    EXPECT_FALSE(start(*b, op)) << "the socket buffer is full";
    b->wait(0ns);
    EXPECT_FALSE(op.done);
    ASSERT_TRUE(drive(*b, [&] {
        corio::test::drain(s.second.get());
        return op.done;
    }));
    EXPECT_GT(op.m_result, 0);
    EXPECT_LE(op.m_result, 1000);
}

TEST_P(BackendSocketOps, QueuedReceivesCompleteInSubmissionOrder) {
    auto s = corio::test::make_socket_pair();
    std::vector<int> order;
    std::array<char, 1> bufs[3]{};
    std::vector<std::unique_ptr<test_op>> ops;
    for (int i = 0; i < 3; ++i) {
        ops.push_back(std::make_unique<test_op>(io_kind::recv, s.first.get(), bufs[i].data(), 1));
        ops.back()->order = &order;
        ops.back()->id = i;
        EXPECT_FALSE(start(*b, *ops.back()));
    }
    write_all(s.second.get(), "abc");
    ASSERT_TRUE(drive(*b, [&] { return order.size() == 3; }));
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(std::string({bufs[0][0], bufs[1][0], bufs[2][0]}), "abc");

    // Larger buffers: each message is consumed by the first waiter only.
    char big[2][16];
    test_op first(io_kind::recv, s.first.get(), big[0], sizeof big[0]);
    test_op second(io_kind::recv, s.first.get(), big[1], sizeof big[1]);
    EXPECT_FALSE(start(*b, first));
    EXPECT_FALSE(start(*b, second));
    write_all(s.second.get(), "one");
    ASSERT_TRUE(drive(*b, [&] { return first.done; }));
    EXPECT_EQ(text(big[0], first.m_result), "one");
    b->wait(0ns);
    EXPECT_FALSE(second.done);
    write_all(s.second.get(), "two");
    ASSERT_TRUE(drive(*b, [&] { return second.done; }));
    EXPECT_EQ(text(big[1], second.m_result), "two");
}

TEST_P(BackendSocketOps, QueuedSendsCompleteInSubmissionOrderAndTheirBytesDoNotInterleave) {
    auto s = corio::test::make_socket_pair();
    corio::test::set_buffer_sizes(s.first.get(), 4096);
    corio::test::fill(s.first.get()); // zero bytes
    std::vector<char> as(3000, 'A');
    std::vector<char> bs(3000, 'B');
    std::vector<int> order;
    test_op first(io_kind::send, s.first.get(), as.data(), as.size());
    test_op second(io_kind::send, s.first.get(), bs.data(), bs.size());
    first.order = second.order = &order;
    first.id = 1;
    second.id = 2;
    EXPECT_FALSE(start(*b, first));
    EXPECT_FALSE(start(*b, second));
    std::string received;
    ASSERT_TRUE(drive(*b, [&] {
        for (std::string chunk; !(chunk = read_now(s.second.get(), 65536)).empty();)
            received += chunk;
        return first.done && second.done;
    }));
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    received.erase(std::remove(received.begin(), received.end(), '\0'), received.end());
    EXPECT_EQ(received, std::string(static_cast<std::size_t>(first.m_result), 'A') +
                            std::string(static_cast<std::size_t>(second.m_result), 'B'));
}

TEST_P(BackendSocketOps, ACancelledRecvNeverCompletesAndLeavesTheDataToTheNextOne) {
    auto s = corio::test::make_socket_pair();
    char buf[16];
    test_op op(io_kind::recv, s.first.get(), buf, sizeof buf);
    ASSERT_FALSE(start(*b, op));
    EXPECT_TRUE(b->cancel(op));
    EXPECT_FALSE(b->has_pending());
    write_all(s.second.get(), "xyz");
    settle(*b);
    EXPECT_FALSE(op.done);
    EXPECT_FALSE(b->cancel(op));
    char buf2[16];
    test_op next(io_kind::recv, s.first.get(), buf2, sizeof buf2);
    EXPECT_EQ(run_op(*b, next), 3);
    EXPECT_EQ(text(buf2, next.m_result), "xyz");
}

TEST_P(BackendSocketOps, ACancelledSendWritesNothing) {
    auto s = corio::test::make_socket_pair();
    corio::test::set_buffer_sizes(s.first.get(), 4096);
    const std::size_t filled = corio::test::fill(s.first.get());
    std::vector<char> data(100, 'S');
    test_op op(io_kind::send, s.first.get(), data.data(), data.size());
    ASSERT_FALSE(start(*b, op));
    EXPECT_TRUE(b->cancel(op));
    EXPECT_EQ(drain_while_running(*b, s.second.get()), filled);
    EXPECT_FALSE(op.done);
}

TEST_P(BackendSocketOps, RecvReturnsZeroAtEndOfStream) {
    auto s = corio::test::make_socket_pair();
    char buf[16];
    test_op op(io_kind::recv, s.first.get(), buf, sizeof buf);
    ASSERT_FALSE(start(*b, op));
    s.second.reset();
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_EQ(op.m_result, 0);
    test_op again(io_kind::recv, s.first.get(), buf, sizeof buf);
    EXPECT_EQ(run_op(*b, again), 0) << "the end of stream is reported again";
}

TEST_P(BackendSocketOps, TheEndOfStreamRightAfterTheLastBytesIsStillReported) {
    // The last bytes and the end of stream arrive together: the read of the bytes is short,
    // and the next recv must still see the end of stream although nothing more will arrive.
    for (const bool tcp : {false, true}) {
        SCOPED_TRACE(tcp ? "tcp" : "socketpair");
        auto c = tcp ? corio::test::make_tcp_pair() : corio::test::make_socket_pair();
        char buf[100];
        test_op first(io_kind::recv, c.second.get(), buf, sizeof buf);
        ASSERT_FALSE(start(*b, first));
        write_all(c.first.get(), "12345");
        ASSERT_EQ(::shutdown(c.first.get(), SHUT_WR), 0);
        ASSERT_TRUE(poll_for(c.second.get(), POLLRDHUP));
        ASSERT_TRUE(drive(*b, [&] { return first.done; }));
        EXPECT_EQ(first.m_result, 5);
        test_op eof(io_kind::recv, c.second.get(), buf, sizeof buf);
        start(*b, eof);
        ASSERT_TRUE(drive(
            *b, [&] { return eof.done; }, 2s))
            << "the end of stream was lost";
        EXPECT_EQ(eof.m_result, 0);
        b->forget_fd(c.second.get());
    }
}

TEST_P(BackendSocketOps, AStreamReadInPiecesEndsWithZeroAfterTheWriterShutsDown) {
    auto c = corio::test::make_tcp_pair();
    corio::test::set_buffer_sizes(c.first.get(), 8192);
    std::vector<char> data(std::size_t{1} << 20, 'z');
    std::size_t sent = 0;
    std::size_t received = 0;
    char buf[1000];
    test_op send(io_kind::send, c.first.get());
    test_op recv(io_kind::recv, c.second.get());
    send.done = recv.done = true; // idle
    bool eof = false;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!eof && std::chrono::steady_clock::now() < deadline) {
        if (send.done && sent < data.size()) {
            if (send.m_result > 0 && send.m_buf)
                sent += static_cast<std::size_t>(send.m_result);
            send.m_result = 0;
            if (sent == data.size()) {
                ASSERT_EQ(::shutdown(c.first.get(), SHUT_WR), 0);
            } else {
                send.done = false;
                set_buffer(send, data.data() + sent, data.size() - sent);
                start(*b, send);
                continue;
            }
        }
        if (recv.done) {
            if (recv.m_buf) {
                ASSERT_GE(recv.m_result, 0);
                eof = recv.m_result == 0;
                received += static_cast<std::size_t>(recv.m_result);
            }
            if (!eof) {
                recv.done = false;
                set_buffer(recv, buf, sizeof buf);
                start(*b, recv);
                continue;
            }
        }
        b->wait(1s);
    }
    EXPECT_TRUE(eof) << "stalled at " << received << " bytes received";
    EXPECT_EQ(received, data.size());
}

TEST_P(BackendSocketOps, HalfCloseEndsOneDirectionOnly) {
    auto c = corio::test::make_tcp_pair();
    ASSERT_EQ(::shutdown(c.first.get(), SHUT_WR), 0);
    char buf[16];
    test_op eof(io_kind::recv, c.second.get(), buf, sizeof buf);
    EXPECT_EQ(run_op(*b, eof), 0);
    char late[] = "late";
    test_op reply(io_kind::send, c.second.get(), late, 4);
    EXPECT_EQ(run_op(*b, reply), 4);
    test_op got(io_kind::recv, c.first.get(), buf, sizeof buf);
    EXPECT_EQ(run_op(*b, got), 4);
    EXPECT_EQ(text(buf, got.m_result), "late");
}

TEST_P(BackendSocketOps, APendingRecvGetsConnectionResetWhenThePeerAborts) {
    auto c = corio::test::make_tcp_pair();
    char buf[16];
    test_op op(io_kind::recv, c.second.get(), buf, sizeof buf);
    ASSERT_FALSE(start(*b, op));
    corio::test::set_reset_on_close(c.first.get());
    c.first.reset();
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_EQ(op.m_result, -ECONNRESET);
}

TEST_P(BackendSocketOps, ASendGetsConnectionResetAfterThePeerAborts) {
    auto c = corio::test::make_tcp_pair();
    corio::test::set_reset_on_close(c.first.get());
    c.first.reset();
    ASSERT_TRUE(poll_for(c.second.get(), POLLERR)) << "the reset did not arrive";
    char msg[] = "x";
    test_op op(io_kind::send, c.second.get(), msg, 1);
    EXPECT_EQ(run_op(*b, op), -ECONNRESET);
}

TEST_P(BackendSocketOps, ASendToAClosedPeerFailsWithEpipeAndRaisesNoSigpipe) {
    const default_sigpipe guard; // SIGPIPE would kill this test process
    auto s = corio::test::make_socket_pair();
    s.second.reset();
    char msg[] = "x";
    test_op op(io_kind::send, s.first.get(), msg, 1);
    EXPECT_EQ(run_op(*b, op), -EPIPE);
    one_buffer_msg mh(msg, 1);
    test_op viamsg(io_kind::sendmsg, s.first.get(), &mh.msg);
    EXPECT_EQ(run_op(*b, viamsg), -EPIPE);
}

TEST_P(BackendSocketOps, ASendAfterShuttingDownWritingFailsWithEpipe) {
    const default_sigpipe guard;
    auto c = corio::test::make_tcp_pair();
    ASSERT_EQ(::shutdown(c.first.get(), SHUT_WR), 0);
    char msg[] = "x";
    test_op op(io_kind::send, c.first.get(), msg, 1);
    EXPECT_EQ(run_op(*b, op), -EPIPE);
}

TEST_P(BackendSocketOps, AHangUpCompletesQueuedOperationsInBothDirections) {
    const default_sigpipe guard;
    auto s = corio::test::make_socket_pair();
    corio::test::set_buffer_sizes(s.first.get(), 4096);
    corio::test::fill(s.first.get());
    char in[16];
    char out[100] = {};
    test_op reader(io_kind::recv, s.first.get(), in, sizeof in);
    test_op writer(io_kind::send, s.first.get(), out, sizeof out);
    ASSERT_FALSE(start(*b, reader));
    ASSERT_FALSE(start(*b, writer));
    s.second.reset();
    ASSERT_TRUE(drive(*b, [&] { return reader.done && writer.done; }));
    // The peer closed with unread data: Linux reports ECONNRESET once (to whichever call comes
    // first), then end of stream to reads and EPIPE to writes.
    EXPECT_TRUE(reader.m_result == -ECONNRESET || reader.m_result == 0) << reader.m_result;
    EXPECT_TRUE(writer.m_result == -ECONNRESET || writer.m_result == -EPIPE) << writer.m_result;
}

// --------------------------------------------------------------------- accept, connect ---

TEST_P(BackendSocketOps, OnlyIoUringOffersMultishotAccept) {
    // The others accept one connection per operation; their users fall back to that.
    EXPECT_EQ(b->caps().multishot_accept, corio::test::backend_family(GetParam()) == "io_uring");
}

TEST_P(BackendSocketOps, AcceptWaitsForAConnectionAndGivesANonBlockingCloseOnExecFd) {
    const unique_fd listener = corio::test::make_tcp_listener();
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    test_op op(io_kind::accept, listener.get());
    set_address(op, peer, peer_len);
    ASSERT_FALSE(start(*b, op)) << "nobody connected yet";
    const unique_fd client = corio::test::make_inet_socket(SOCK_STREAM);
    corio::test::connect_now(client.get(), corio::test::local_address(listener.get()));
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    ASSERT_GE(op.m_result, 0);
    const unique_fd accepted(static_cast<int>(op.m_result));
    EXPECT_TRUE(::fcntl(accepted.get(), F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(accepted.get(), F_GETFD) & FD_CLOEXEC);
    ASSERT_EQ(peer_len, sizeof peer);
    EXPECT_EQ(peer.sin_port, corio::test::local_address(client.get()).sin_port);
    EXPECT_EQ(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
}

TEST_P(BackendSocketOps, AcceptTakesEveryConnectionAlreadyQueued) {
    const unique_fd listener = corio::test::make_tcp_listener(128);
    const auto address = corio::test::local_address(listener.get());
    std::vector<unique_fd> clients;
    for (int i = 0; i < 50; ++i) {
        clients.push_back(corio::test::make_inet_socket(SOCK_STREAM));
        corio::test::connect_now(clients.back().get(), address);
    }
    std::vector<unique_fd> accepted;
    for (int i = 0; i < 50; ++i) {
        test_op op(io_kind::accept, listener.get());
        const std::int64_t fd = run_op(*b, op);
        ASSERT_GE(fd, 0) << "accept " << i << ": " << std::strerror(static_cast<int>(-fd));
        accepted.emplace_back(static_cast<int>(fd));
    }
    test_op none(io_kind::accept, listener.get());
    EXPECT_FALSE(start(*b, none)) << "every connection was taken";
    EXPECT_TRUE(b->cancel(none));
}

TEST_P(BackendSocketOps, QueuedAcceptsCompleteInOrderAsClientsConnect) {
    const unique_fd listener = corio::test::make_tcp_listener();
    const auto address = corio::test::local_address(listener.get());
    std::vector<int> order;
    std::vector<std::unique_ptr<test_op>> ops;
    for (int i = 0; i < 5; ++i) {
        ops.push_back(std::make_unique<test_op>(io_kind::accept, listener.get()));
        ops.back()->order = &order;
        ops.back()->id = i;
        ASSERT_FALSE(start(*b, *ops.back()));
    }
    std::vector<unique_fd> clients;
    std::vector<unique_fd> accepted;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(corio::test::make_inet_socket(SOCK_STREAM));
        corio::test::connect_now(clients.back().get(), address);
        ASSERT_TRUE(drive(*b, [&] { return ops[static_cast<std::size_t>(i)]->done; }));
        ASSERT_GE(ops[static_cast<std::size_t>(i)]->m_result, 0);
        accepted.emplace_back(static_cast<int>(ops[static_cast<std::size_t>(i)]->m_result));
    }
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendSocketOps, ConnectToAClosedPortIsRefused) {
    // A bound socket that does not listen holds the port, and refuses connections to it.
    const unique_fd holder = corio::test::make_bound_socket(SOCK_STREAM);
    sockaddr_in to = corio::test::local_address(holder.get());
    socklen_t to_len = sizeof to;
    const unique_fd client = corio::test::make_inet_socket(SOCK_STREAM);
    test_op op(io_kind::connect, client.get());
    set_address(op, to, to_len);
    EXPECT_EQ(run_op(*b, op), -ECONNREFUSED);
    b->forget_fd(client.get());
}

TEST_P(BackendSocketOps, ConnectToAListenerSucceedsAndTheConnectionCarriesData) {
    const unique_fd listener = corio::test::make_tcp_listener();
    sockaddr_in to = corio::test::local_address(listener.get());
    socklen_t to_len = sizeof to;
    const unique_fd client = corio::test::make_inet_socket(SOCK_STREAM);
    test_op op(io_kind::connect, client.get());
    set_address(op, to, to_len);
    EXPECT_EQ(run_op(*b, op), 0);
    const unique_fd server = corio::test::accept_now(listener.get());
    char msg[] = "hi";
    test_op send(io_kind::send, client.get(), msg, 2);
    EXPECT_EQ(run_op(*b, send), 2);
    ASSERT_TRUE(poll_for(server.get(), POLLIN));
    EXPECT_EQ(read_now(server.get()), "hi");
    b->forget_fd(client.get());
}

TEST_P(BackendSocketOps, ACancelledAcceptLeavesTheConnectionToTheNextAccept) {
    const unique_fd listener = corio::test::make_tcp_listener();
    test_op op(io_kind::accept, listener.get());
    ASSERT_FALSE(start(*b, op)) << "nobody connected yet";
    EXPECT_TRUE(b->cancel(op));
    EXPECT_FALSE(b->has_pending());
    const unique_fd client = corio::test::make_inet_socket(SOCK_STREAM);
    corio::test::connect_now(client.get(), corio::test::local_address(listener.get()));
    settle(*b);
    EXPECT_FALSE(op.done);
    EXPECT_FALSE(b->cancel(op)) << "already withdrawn";
    test_op next(io_kind::accept, listener.get());
    const std::int64_t fd = run_op(*b, next);
    ASSERT_GE(fd, 0) << std::strerror(static_cast<int>(-fd));
    const unique_fd accepted(static_cast<int>(fd));
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    ASSERT_EQ(::getpeername(accepted.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len), 0);
    EXPECT_EQ(peer.sin_port, corio::test::local_address(client.get()).sin_port);
}

TEST_P(BackendSocketOps, ACancelledConnectNeverCompletes) {
    // A listener whose accept queue is full (Linux holds backlog + 1 connections) drops the
    // SYNs of further connects, which then stay pending.
    const unique_fd listener = corio::test::make_tcp_listener(0);
    sockaddr_in to = corio::test::local_address(listener.get());
    socklen_t to_len = sizeof to;
    std::vector<unique_fd> queued;
    for (int i = 0; i < 4; ++i) {
        queued.push_back(corio::test::make_inet_socket(SOCK_STREAM));
        (void)::connect(queued.back().get(), reinterpret_cast<const sockaddr*>(&to), to_len);
    }
    settle(*b, 20ms);
    const unique_fd client = corio::test::make_inet_socket(SOCK_STREAM);
    test_op op(io_kind::connect, client.get());
    set_address(op, to, to_len);
    ASSERT_FALSE(start(*b, op)) << "the accept queue is full: the connect must wait";
    EXPECT_TRUE(b->cancel(op));
    EXPECT_FALSE(b->has_pending());
    settle(*b, 20ms);
    EXPECT_FALSE(op.done);
    EXPECT_FALSE(b->cancel(op)) << "already withdrawn";
    b->forget_fd(client.get());
}

// --------------------------------------------------------------------------------- UDP ---

TEST_P(BackendSocketOps, SendmsgAndRecvmsgCarryDatagramsAndTheirAddresses) {
    const unique_fd a = corio::test::make_bound_socket(SOCK_DGRAM);
    const unique_fd c = corio::test::make_bound_socket(SOCK_DGRAM);

    char in[64];
    sockaddr_in from{};
    one_buffer_msg in_msg(in, sizeof in, &from, sizeof from);
    test_op receive(io_kind::recvmsg, c.get(), &in_msg.msg);
    ASSERT_FALSE(start(*b, receive));

    char out[] = "hello";
    sockaddr_in to = corio::test::local_address(c.get());
    one_buffer_msg out_msg(out, 5, &to, sizeof to);
    test_op send(io_kind::sendmsg, a.get(), &out_msg.msg);
    EXPECT_EQ(run_op(*b, send), 5);

    ASSERT_TRUE(drive(*b, [&] { return receive.done; }));
    EXPECT_EQ(receive.m_result, 5);
    EXPECT_EQ(text(in, receive.m_result), "hello");
    ASSERT_EQ(in_msg.msg.msg_namelen, sizeof from);
    EXPECT_EQ(from.sin_port, corio::test::local_address(a.get()).sin_port);
    EXPECT_EQ(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
}

TEST_P(BackendSocketOps, DatagramsAreReceivedOneAtATime) {
    // A datagram shorter than the buffer does not mean the socket is empty: every queued
    // datagram must still be received, with recvmsg and with recv.
    const unique_fd a = corio::test::make_bound_socket(SOCK_DGRAM);
    const unique_fd c = corio::test::make_bound_socket(SOCK_DGRAM);
    const sockaddr_in to = corio::test::local_address(c.get());
    const auto send_datagram = [&](std::string_view s) {
        ASSERT_EQ(::sendto(a.get(), s.data(), s.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                           sizeof to),
                  static_cast<ssize_t>(s.size()));
    };
    for (const char* word : {"one", "three", "four", "seven"})
        send_datagram(word);
    ASSERT_TRUE(poll_for(c.get(), POLLIN));
    std::vector<std::string> got;
    for (int i = 0; i < 2; ++i) {
        char in[64];
        one_buffer_msg mh(in, sizeof in);
        test_op op(io_kind::recvmsg, c.get(), &mh.msg);
        start(*b, op);
        ASSERT_TRUE(drive(
            *b, [&] { return op.done; }, 2s))
            << "datagram " << i << " is stuck";
        got.push_back(text(in, op.m_result));
    }
    for (int i = 0; i < 2; ++i) {
        char in[64];
        test_op op(io_kind::recv, c.get(), in, sizeof in);
        start(*b, op);
        ASSERT_TRUE(drive(
            *b, [&] { return op.done; }, 2s))
            << "datagram " << i + 2;
        got.push_back(text(in, op.m_result));
    }
    EXPECT_EQ(got, (std::vector<std::string>{"one", "three", "four", "seven"}));
}

TEST_P(BackendSocketOps, ACancelledRecvmsgLosesNoDatagram) {
    const unique_fd a = corio::test::make_bound_socket(SOCK_DGRAM);
    const unique_fd c = corio::test::make_bound_socket(SOCK_DGRAM);
    char in[64];
    one_buffer_msg mh(in, sizeof in);
    test_op op(io_kind::recvmsg, c.get(), &mh.msg);
    ASSERT_FALSE(start(*b, op)) << "no datagram yet";
    EXPECT_TRUE(b->cancel(op));
    const sockaddr_in to = corio::test::local_address(c.get());
    ASSERT_EQ(::sendto(a.get(), "dgram", 5, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
              5);
    ASSERT_TRUE(poll_for(c.get(), POLLIN));
    settle(*b);
    EXPECT_FALSE(op.done);
    char again[64];
    one_buffer_msg again_mh(again, sizeof again);
    test_op next(io_kind::recvmsg, c.get(), &again_mh.msg);
    EXPECT_EQ(run_op(*b, next), 5);
    EXPECT_EQ(text(again, next.m_result), "dgram");
}

TEST_P(BackendSocketOps, ACancelledSendmsgSendsNothing) {
    auto s = corio::test::make_socket_pair();
    corio::test::set_buffer_sizes(s.first.get(), 4096);
    const std::size_t filled = corio::test::fill(s.first.get());
    char out[100];
    std::memset(out, 'M', sizeof out);
    one_buffer_msg mh(out, sizeof out);
    test_op op(io_kind::sendmsg, s.first.get(), &mh.msg);
    ASSERT_FALSE(start(*b, op)) << "the socket buffer is full";
    EXPECT_TRUE(b->cancel(op));
    EXPECT_EQ(drain_while_running(*b, s.second.get()), filled);
    EXPECT_FALSE(op.done);
}

// ------------------------------------------------------------------------------- pipes ---

TEST_P(BackendSocketOps, ReadAndWriteMoveBytesThroughAPipe) {
    auto p = corio::test::make_pipe();
    char out[] = "abc";
    test_op write(io_kind::write, p.second.get(), out, 3);
    EXPECT_EQ(run_op(*b, write), 3);
    char in[16];
    test_op read(io_kind::read, p.first.get(), in, sizeof in);
    EXPECT_EQ(run_op(*b, read), 3);
    EXPECT_EQ(text(in, 3), "abc");

    test_op waiting(io_kind::read, p.first.get(), in, sizeof in);
    EXPECT_FALSE(start(*b, waiting)) << "the pipe is empty";
    write_all(p.second.get(), "de");
    ASSERT_TRUE(drive(*b, [&] { return waiting.done; }));
    EXPECT_EQ(text(in, waiting.m_result), "de");
}

TEST_P(BackendSocketOps, PacketModePipeReadsGetOnePacketEachAndNoneIsStuck) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK | O_DIRECT), 0);
    const unique_fd read_end(fds[0]);
    const unique_fd write_end(fds[1]);
    std::vector<std::string> got;
    for (int i = 0; i < 2; ++i) {
        char in[100];
        test_op op(io_kind::read, read_end.get(), in, sizeof in);
        start(*b, op);
        if (i == 0) {
            // Both packets arrive while the first read waits: one event for both.
            ASSERT_FALSE(op.done);
            write_all(write_end.get(), "ab");
            write_all(write_end.get(), "cde");
        }
        const bool done = drive(
            *b, [&] { return op.done; }, 2s);
        ASSERT_TRUE(done) << "packet " << i << " is stuck";
        got.push_back(text(in, op.m_result));
    }
    EXPECT_EQ(got, (std::vector<std::string>{"ab", "cde"}));
}

TEST_P(BackendSocketOps, AWriteToAFullPipeWaitsUntilTheReaderReads) {
    auto p = corio::test::make_pipe();
    corio::test::fill(p.second.get());
    char out[100] = {};
    test_op op(io_kind::write, p.second.get(), out, sizeof out);
    EXPECT_FALSE(start(*b, op)) << "the pipe is full";
    b->wait(0ns);
    EXPECT_FALSE(op.done);
    corio::test::drain(p.first.get());
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_EQ(op.m_result, 100);
}

TEST_P(BackendSocketOps, AReadOfAPipeWhoseWriterIsGoneReturnsZero) {
    auto p = corio::test::make_pipe();
    char in[16];
    test_op op(io_kind::read, p.first.get(), in, sizeof in);
    ASSERT_FALSE(start(*b, op));
    p.second.reset();
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_EQ(op.m_result, 0);
}

TEST_P(BackendSocketOps, ACancelledReadNeverCompletesAndLeavesTheDataToTheNextOne) {
    auto p = corio::test::make_pipe();
    char in[16];
    test_op op(io_kind::read, p.first.get(), in, sizeof in);
    ASSERT_FALSE(start(*b, op)) << "the pipe is empty";
    EXPECT_TRUE(b->cancel(op));
    EXPECT_FALSE(b->has_pending());
    write_all(p.second.get(), "kept");
    settle(*b);
    EXPECT_FALSE(op.done);
    char again[16];
    test_op next(io_kind::read, p.first.get(), again, sizeof again);
    EXPECT_EQ(run_op(*b, next), 4);
    EXPECT_EQ(text(again, next.m_result), "kept");
}

TEST_P(BackendSocketOps, ACancelledWriteWritesNothing) {
    auto p = corio::test::make_pipe();
    const std::size_t filled = corio::test::fill(p.second.get());
    char out[100] = {};
    test_op op(io_kind::write, p.second.get(), out, sizeof out);
    ASSERT_FALSE(start(*b, op)) << "the pipe is full";
    EXPECT_TRUE(b->cancel(op));
    EXPECT_EQ(drain_while_running(*b, p.first.get()), filled);
    EXPECT_FALSE(op.done);
}

// ---------------------------------------------------------------------- large transfers ---

unsigned char pattern(std::size_t i) {
    return static_cast<unsigned char>((i * 131) ^ (i >> 9));
}

/// Moves `total` bytes from `from` to `to` through `b` with send and recv operations of
/// `chunk` bytes at most, both directions' operations in flight at once; checks every byte.
/// Returns the number of sends that wrote less than asked.
int transfer(corio::detail::backend& b, int from, int to, std::size_t total, std::size_t chunk) {
    std::vector<unsigned char> out(total);
    for (std::size_t i = 0; i < total; ++i)
        out[i] = pattern(i);
    std::vector<unsigned char> in(chunk);
    std::size_t sent = 0;
    std::size_t received = 0;
    std::size_t mismatches = 0;
    int short_sends = 0;
    test_op send(io_kind::send, from);
    test_op recv(io_kind::recv, to);
    send.done = recv.done = true; // idle
    send.then = [&](test_op& op) {
        if (op.m_result < 0) {
            ADD_FAILURE() << "send: " << std::strerror(static_cast<int>(-op.m_result));
            sent = total;
            return;
        }
        if (static_cast<std::size_t>(op.m_result) < op.m_len)
            ++short_sends;
        sent += static_cast<std::size_t>(op.m_result);
    };
    recv.then = [&](test_op& op) {
        if (op.m_result <= 0) {
            ADD_FAILURE() << "recv returned " << op.m_result;
            received = total;
            return;
        }
        for (std::int64_t k = 0; k < op.m_result; ++k) {
            if (in[static_cast<std::size_t>(k)] != pattern(received + static_cast<std::size_t>(k)))
                ++mismatches;
        }
        received += static_cast<std::size_t>(op.m_result);
    };
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (sent < total || received < total) {
        if (std::chrono::steady_clock::now() > deadline) {
            ADD_FAILURE() << "the transfer stalled at " << sent << " sent, " << received
                          << " received";
            if (!send.done)
                b.cancel(send);
            if (!recv.done)
                b.cancel(recv);
            break;
        }
        bool waiting = false;
        if (send.done && sent < total) {
            send.done = false;
            set_buffer(send, out.data() + sent, std::min(chunk, total - sent));
            start(b, send);
        }
        waiting |= !send.done;
        if (recv.done && received < total) {
            recv.done = false;
            set_buffer(recv, in.data(), in.size());
            start(b, recv);
        }
        waiting |= !recv.done;
        if (waiting)
            b.wait(1s);
    }
    EXPECT_EQ(mismatches, 0u);
    EXPECT_EQ(received, total);
    EXPECT_FALSE(b.has_pending());
    return short_sends;
}

TEST_P(BackendSocketOps, EightMegabytesCrossASocketPairIntactThroughShortSends) {
    auto s = corio::test::make_socket_pair();
    corio::test::set_buffer_sizes(s.first.get(), 32768);
    corio::test::set_buffer_sizes(s.second.get(), 32768);
    const int short_sends =
        transfer(*b, s.first.get(), s.second.get(), std::size_t{8} << 20, 256 * 1024);
    EXPECT_GT(short_sends, 0) << "the test meant to exercise short sends";
}

TEST_P(BackendSocketOps, FourMegabytesCrossATcpConnectionIntact) {
    auto c = corio::test::make_tcp_pair();
    transfer(*b, c.first.get(), c.second.get(), std::size_t{4} << 20, 1 << 20);
    transfer(*b, c.second.get(), c.first.get(), std::size_t{1} << 20, 3000);
}

// ------------------------------------------------------------ completions and the table ---

TEST_P(BackendSocketOps, ACompletionMaySubmitTheNextOperationOnTheSameFd) {
    auto s = corio::test::make_socket_pair();
    std::string got;
    char buf[8];
    test_op op(io_kind::recv, s.first.get(), buf, sizeof buf);
    op.then = [&](test_op& self) {
        got += text(buf, self.m_result);
        if (got.size() < 3) {
            self.done = false;
            start(*b, self);
        }
    };
    ASSERT_FALSE(start(*b, op));
    std::size_t expected = 0;
    for (const char* c : {"a", "b", "c"}) {
        write_all(s.second.get(), c);
        ++expected;
        ASSERT_TRUE(drive(*b, [&] { return got.size() == expected; }));
    }
    EXPECT_EQ(got, "abc");
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendSocketOps, ACompletionMayCancelAnotherQueuedOperation) {
    auto s = corio::test::make_socket_pair();
    char buf[2][1];
    test_op first(io_kind::recv, s.first.get(), buf[0], 1);
    test_op second(io_kind::recv, s.first.get(), buf[1], 1);
    bool cancelled = false;
    first.then = [&](test_op&) { cancelled = b->cancel(second); };
    ASSERT_FALSE(start(*b, first));
    ASSERT_FALSE(start(*b, second));
    write_all(s.second.get(), "ab");
    ASSERT_TRUE(drive(*b, [&] { return first.done; }));
    settle(*b);
    EXPECT_TRUE(cancelled);
    EXPECT_FALSE(second.done);
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendSocketOps, ACompletionMayForgetAndCloseItsFd) {
    auto s = corio::test::make_socket_pair();
    char buf[8];
    test_op op(io_kind::recv, s.first.get(), buf, sizeof buf);
    op.then = [&](test_op& self) {
        b->forget_fd(self.m_fd);
        s.first.reset();
    };
    ASSERT_FALSE(start(*b, op));
    write_all(s.second.get(), "bye");
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    settle(*b);
    EXPECT_EQ(op.completions, 1);
    EXPECT_FALSE(s.first);
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendSocketOps, ACallOnAClosedFdFailsWithEbadf) {
    int closed = -1;
    {
        auto s = corio::test::make_socket_pair();
        closed = s.first.get();
    }
    char buf[8];
    test_op op(io_kind::recv, closed, buf, sizeof buf);
    EXPECT_EQ(run_op(*b, op), -EBADF);
}

TEST_P(BackendSocketOps, AfterForgetFdANewSocketWithTheSameNumberStartsAfresh) {
    int old_number = -1;
    {
        auto s = corio::test::make_socket_pair();
        old_number = s.first.get();
        char buf[8];
        test_op op(io_kind::recv, s.first.get(), buf, sizeof buf);
        ASSERT_FALSE(start(*b, op)); // the old socket was found not readable
        ASSERT_TRUE(b->cancel(op));
        b->forget_fd(s.first.get());
    }
    auto s = corio::test::make_socket_pair();
    ASSERT_EQ(s.first.get(), old_number) << "the kernel did not reuse the fd number";
    write_all(s.second.get(), "new");
    char buf[8];
    test_op op(io_kind::recv, s.first.get(), buf, sizeof buf);
    EXPECT_EQ(run_op(*b, op), 3);
    test_op waiting(io_kind::recv, s.first.get(), buf, sizeof buf);
    ASSERT_FALSE(start(*b, waiting));
    write_all(s.second.get(), "more");
    ASSERT_TRUE(drive(*b, [&] { return waiting.done; }));
    EXPECT_EQ(waiting.m_result, 4);
}

TEST_P(BackendSocketOps, ConnectionsAcceptedConnectedAndClosedLeakNoFd) {
    b.reset(); // the count covers a backend's own fds too: one is made after it
    const std::size_t before = corio::test::open_fd_count();
    {
        b = make();
        const unique_fd listener = corio::test::make_tcp_listener();
        sockaddr_in to = corio::test::local_address(listener.get());
        socklen_t to_len = sizeof to;
        for (int i = 0; i < 20; ++i) {
            test_op accept(io_kind::accept, listener.get());
            start(*b, accept);
            const unique_fd client = corio::test::make_inet_socket(SOCK_STREAM);
            test_op connect(io_kind::connect, client.get());
            set_address(connect, to, to_len);
            ASSERT_EQ(run_op(*b, connect), 0);
            ASSERT_TRUE(drive(*b, [&] { return accept.done; }));
            ASSERT_GE(accept.m_result, 0);
            const unique_fd server(static_cast<int>(accept.m_result));
            char msg[] = "x";
            test_op send(io_kind::send, client.get(), msg, 1);
            ASSERT_EQ(run_op(*b, send), 1);
            char in[4];
            test_op recv(io_kind::recv, server.get(), in, sizeof in);
            ASSERT_EQ(run_op(*b, recv), 1);
            b->forget_fd(client.get());
            b->forget_fd(server.get());
        }
        b->forget_fd(listener.get());
    }
    b.reset();
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendSocketOps, corio::test::backend_names(),
                         corio::test::backend_param_name);

} // namespace

// io_uring specifics: synchronous cancellation, a full SQ, CQ overflow, multishot recv with the
// provided buffer pool (order, exhaustion, stop), multishot accept (one submission, stop,
// cancel without fd leaks, the path without it), the cross-thread waker and ring reuse. The
// common behaviour is checked by the conformance suite (backend_*_test.cpp).

#ifdef CORIO_HAVE_IO_URING

#include "corio/runtime/event_loop.hpp"

#include "backend/io_uring/io_uring_backend.hpp"
#include "backend_test_support.hpp"
#include "io/socket_transport.hpp"
#include "support/loop_helpers.hpp"
#include "support/socket_helpers.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::detail::io_uring_backend;
using corio::detail::io_uring_options;
using corio::test::drive;
using corio::test::io_kind;
using corio::test::run_op;
using corio::test::set_buffer;
using corio::test::start;
using corio::test::test_op;
using corio::test::unique_fd;

/// A backend with `options`, or null when the kernel refuses io_uring here.
std::unique_ptr<io_uring_backend> make(const io_uring_options& options = {}) {
    try {
        return std::make_unique<io_uring_backend>(options);
    } catch (const std::system_error&) {
        return nullptr;
    }
}

#define MAKE_OR_SKIP(b, ...)                                                                       \
    auto b = make(__VA_ARGS__);                                                                    \
    if (!b)                                                                                        \
        GTEST_SKIP() << "io_uring is not available here";

void write_all(int fd, std::string_view s) {
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

/// A multishot recv that keeps the chunks it receives (and recycles their buffers).
struct chunk_reader : test_op {
    io_uring_backend* backend;
    std::string data;
    std::vector<std::int64_t> finals; ///< results of the completions without m_more
    int chunks = 0;
    bool keep_buffers = false; ///< hold the buffers instead of recycling them
    std::vector<std::uint32_t> held;
    std::set<std::uint32_t> ids; ///< every buffer a chunk came in

    chunk_reader(io_uring_backend& b, int fd) : test_op(io_kind::recv, fd), backend(&b) {
        m_multishot = true;
        m_complete = [](corio::detail::io_operation* op) noexcept {
            auto* self = static_cast<chunk_reader*>(op);
            if (self->m_result > 0) {
                ++self->chunks;
                self->ids.insert(self->m_buffer_id);
                self->data.append(static_cast<const char*>(self->m_buf),
                                  static_cast<std::size_t>(self->m_result));
                if (self->keep_buffers)
                    self->held.push_back(self->m_buffer_id);
                else
                    self->backend->recycle_buffer(self->m_buffer_id);
            }
            if (!self->m_more)
                self->finals.push_back(self->m_result);
        };
    }
};

TEST(IoUringBackend, ACancelledRecvLetsItsBufferBeFreedAtOnce) {
    MAKE_OR_SKIP(b);
    auto s = corio::test::make_socket_pair();
    for (int round = 0; round < 50; ++round) {
        auto buf = std::make_unique<char[]>(64);
        test_op op(io_kind::recv, s.first.get());
        set_buffer(op, buf.get(), 64);
        ASSERT_FALSE(start(*b, op));
        b->wait(0ns); // in the kernel now, waiting for data
        ASSERT_TRUE(b->cancel(op));
        buf.reset(); // ASan: the kernel must never write here again
        write_all(s.second.get(), "x");
        b->wait(0ns);
        b->wait(1ms);
        EXPECT_EQ(op.completions, 0);
        char c;
        ASSERT_EQ(::read(s.first.get(), &c, 1), 1) << "the byte was left to the next reader";
    }
    EXPECT_FALSE(b->has_pending());
}

TEST(IoUringBackend, ACallCancelledBeforeItsSqeWasSubmittedNeverRuns) {
    MAKE_OR_SKIP(b);
    auto s = corio::test::make_socket_pair();
    write_all(s.second.get(), "data");
    char buf[16];
    test_op op(io_kind::recv, s.first.get());
    set_buffer(op, buf, sizeof buf);
    ASSERT_FALSE(start(*b, op));
    ASSERT_TRUE(b->cancel(op)); // its SQE is turned into a NOP
    corio::test::settle(*b);
    EXPECT_EQ(op.completions, 0);
    char got[16];
    EXPECT_EQ(::read(s.first.get(), got, sizeof got), 4) << "the data is still there";
}

TEST(IoUringBackend, AnAcceptCancelledInTheKernelLeavesTheConnectionForTheNextAccept) {
    MAKE_OR_SKIP(b);
    const unique_fd listener = corio::test::make_tcp_listener();
    test_op first(io_kind::accept, listener.get());
    ASSERT_FALSE(start(*b, first));
    b->wait(1ms);
    ASSERT_TRUE(b->cancel(first));
    test_op second(io_kind::accept, listener.get());
    ASSERT_FALSE(start(*b, second));
    const unique_fd client = corio::test::make_inet_socket(SOCK_STREAM);
    sockaddr_in to = corio::test::local_address(listener.get());
    socklen_t to_len = sizeof to;
    test_op connect(io_kind::connect, client.get());
    connect.m_addr = reinterpret_cast<sockaddr*>(&to);
    connect.m_addrlen = &to_len;
    EXPECT_EQ(run_op(*b, connect), 0);
    ASSERT_TRUE(drive(
        *b, [&] { return second.done; }, 5s));
    EXPECT_GE(second.m_result, 0);
    const unique_fd accepted(static_cast<int>(second.m_result));
    EXPECT_EQ(first.completions, 0);
}

TEST(IoUringBackend, MoreOperationsThanTheSubmissionQueueHoldsAllComplete) {
    io_uring_options options;
    options.sq_entries = 4;
    options.cq_entries = 8;
    MAKE_OR_SKIP(b, options);
    constexpr int n = 40;
    std::vector<corio::test::fd_pair> pipes;
    std::vector<std::unique_ptr<test_op>> ops;
    for (int i = 0; i < n; ++i) {
        pipes.push_back(corio::test::make_pipe());
        ops.push_back(std::make_unique<test_op>(io_kind::poll_readable, pipes.back().first.get()));
        ASSERT_FALSE(start(*b, *ops.back())); // the SQ fills up: flushed and goes on
    }
    for (auto& p : pipes)
        write_all(p.second.get(), "x");
    ASSERT_TRUE(drive(*b, [&] {
        for (auto& op : ops) {
            if (!op->done)
                return false;
        }
        return true;
    }));
    for (auto& op : ops) {
        EXPECT_EQ(op->completions, 1);
        EXPECT_TRUE(op->m_result & POLLIN);
    }
    EXPECT_FALSE(b->has_pending());
}

TEST(IoUringBackend, MoreCompletionsThanTheCompletionQueueHoldsAreAllDelivered) {
    io_uring_options options;
    options.sq_entries = 4;
    options.cq_entries = 8;
    MAKE_OR_SKIP(b, options);
    constexpr int n = 100;
    std::vector<corio::test::fd_pair> pipes;
    std::vector<std::unique_ptr<test_op>> ops;
    std::vector<char> bufs(n);
    for (int i = 0; i < n; ++i) {
        pipes.push_back(corio::test::make_pipe());
        ops.push_back(std::make_unique<test_op>(io_kind::read, pipes.back().first.get()));
        set_buffer(*ops.back(), &bufs[static_cast<std::size_t>(i)], 1);
        ASSERT_FALSE(start(*b, *ops.back()));
    }
    b->wait(0ns); // all in the kernel, waiting
    for (auto& p : pipes)
        write_all(p.second.get(), "y"); // 100 completions for a CQ of 8
    b->wait(1s);
    int done = 0;
    for (auto& op : ops)
        done += op->done ? 1 : 0;
    EXPECT_EQ(done, n) << "one wait delivers the overflowed completions too";
    ASSERT_TRUE(drive(*b, [&] {
        for (auto& op : ops) {
            if (!op->done)
                return false;
        }
        return true;
    }));
    for (int i = 0; i < n; ++i) {
        EXPECT_EQ(ops[static_cast<std::size_t>(i)]->m_result, 1);
        EXPECT_EQ(bufs[static_cast<std::size_t>(i)], 'y');
    }
}

TEST(IoUringBackend, AReadOfAnEmptyNonBlockingPipeWaitsInsteadOfReturningEagain) {
    MAKE_OR_SKIP(b);
    auto p = corio::test::make_pipe(); // O_NONBLOCK: io_uring itself would say EAGAIN
    char buf[8];
    test_op op(io_kind::read, p.first.get());
    set_buffer(op, buf, sizeof buf);
    ASSERT_FALSE(start(*b, op));
    b->wait(5ms);
    EXPECT_FALSE(op.done);
    write_all(p.second.get(), "late");
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_EQ(op.m_result, 4);
    EXPECT_EQ(std::string(buf, 4), "late");
}

TEST(IoUringBackend, MultishotRecvDeliversTheChunksInOrder) {
    MAKE_OR_SKIP(b);
    ASSERT_TRUE(b->caps().provided_buffers);
    auto s = corio::test::make_socket_pair();
    chunk_reader r(*b, s.first.get());
    ASSERT_FALSE(start(*b, r));
    std::string sent;
    for (int i = 0; i < 200; ++i) {
        const std::string msg = "message " + std::to_string(i) + ";";
        write_all(s.second.get(), msg);
        sent += msg;
        if (i % 7 == 0)
            b->wait(0ns);
    }
    ASSERT_TRUE(drive(*b, [&] { return r.data.size() == sent.size(); }));
    EXPECT_EQ(r.data, sent);
    EXPECT_GT(r.chunks, 1);
    EXPECT_TRUE(r.finals.empty()) << "the recv goes on";
    ::shutdown(s.second.get(), SHUT_WR);
    ASSERT_TRUE(drive(*b, [&] { return !r.finals.empty(); }));
    EXPECT_EQ(r.finals, std::vector<std::int64_t>{0}) << "the end of the stream ends it";
    EXPECT_EQ(b->buffers_out(), 0u);
    EXPECT_FALSE(b->has_pending());
}

TEST(IoUringBackend, StopEndsAMultishotRecvWithoutLosingWhatItReceived) {
    MAKE_OR_SKIP(b);
    auto s = corio::test::make_socket_pair();
    chunk_reader r(*b, s.first.get());
    ASSERT_FALSE(start(*b, r));
    b->wait(0ns);
    write_all(s.second.get(), "before the stop");
    b->stop(r); // the data is in the socket, maybe already in a buffer: nothing may be lost
    ASSERT_TRUE(drive(*b, [&] { return !r.finals.empty(); }));
    EXPECT_EQ(r.finals.size(), 1u);
    write_all(s.second.get(), " and after");
    corio::test::settle(*b);
    std::string rest(64, '\0');
    const ssize_t n = ::read(s.first.get(), rest.data(), rest.size());
    rest.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    EXPECT_EQ(r.data + rest, "before the stop and after");
    EXPECT_FALSE(b->has_pending());
}

TEST(IoUringBackend, AnExhaustedBufferPoolResumesTheRecvOnceABufferIsRecycled) {
    io_uring_options options;
    options.buffer_count = 4;
    options.buffer_size = 16;
    MAKE_OR_SKIP(b, options);
    ASSERT_TRUE(b->caps().provided_buffers);
    auto s = corio::test::make_socket_pair();
    chunk_reader r(*b, s.first.get());
    r.keep_buffers = true;
    ASSERT_FALSE(start(*b, r));
    const std::string sent(200, 'z');
    write_all(s.second.get(), sent);
    ASSERT_TRUE(drive(*b, [&] { return r.held.size() == 4; }));
    corio::test::settle(*b);
    EXPECT_EQ(r.held.size(), 4u) << "the pool is empty: the recv waits (ENOBUFS)";
    EXPECT_TRUE(r.finals.empty()) << "ENOBUFS is not the caller's business";
    EXPECT_TRUE(b->has_pending());
    // Reading the held chunks gives their buffers back; the recv resumes.
    r.keep_buffers = false;
    for (std::uint32_t id : r.held)
        b->recycle_buffer(id);
    r.held.clear();
    ASSERT_TRUE(drive(*b, [&] { return r.data.size() == sent.size(); }));
    EXPECT_EQ(r.data, sent);
    EXPECT_TRUE(b->cancel(r));
    EXPECT_FALSE(b->has_pending());
    EXPECT_EQ(b->buffers_out(), 0u);
}

TEST(IoUringBackend, ABusyRecvReusesAFewWarmBuffersInsteadOfCyclingThroughThePool) {
    MAKE_OR_SKIP(b); // the default pool: 1024 buffers
    ASSERT_TRUE(b->caps().provided_buffers);
    ASSERT_GT(b->buffer_pool()->count, 4 * io_uring_backend::ring_resident);
    auto s = corio::test::make_socket_pair();
    chunk_reader r(*b, s.first.get());
    ASSERT_FALSE(start(*b, r));
    std::string sent;
    for (int i = 0; i < 2000; ++i) {
        const std::string msg = "message " + std::to_string(i) + ";";
        write_all(s.second.get(), msg);
        sent += msg;
        const std::size_t want = sent.size();
        ASSERT_TRUE(drive(*b, [&] { return r.data.size() == want; }));
    }
    EXPECT_EQ(r.data, sent);
    EXPECT_GE(r.chunks, 2000);
    EXPECT_LE(r.ids.size(), io_uring_backend::ring_resident);
    EXPECT_TRUE(b->cancel(r));
    EXPECT_EQ(b->buffers_out(), 0u);
}

TEST(IoUringBackend, ChunksHeldBeyondWhatTheRingHoldsComeFromTheRestOfThePool) {
    io_uring_options options;
    options.buffer_count = 4 * io_uring_backend::ring_resident;
    options.buffer_size = 16;
    MAKE_OR_SKIP(b, options);
    ASSERT_TRUE(b->caps().provided_buffers);
    EXPECT_EQ(b->buffers_in_ring(), io_uring_backend::ring_resident);
    auto s = corio::test::make_socket_pair();
    chunk_reader r(*b, s.first.get());
    r.keep_buffers = true;
    ASSERT_FALSE(start(*b, r));
    const std::size_t wanted = 3 * io_uring_backend::ring_resident; // more than the ring holds
    std::string sent;
    for (std::size_t i = 0; sent.size() < wanted * 16; ++i)
        sent += static_cast<char>('a' + i % 26);
    write_all(s.second.get(), sent);
    ASSERT_TRUE(drive(*b, [&] { return r.data.size() == sent.size(); }));
    EXPECT_EQ(r.data, sent);
    EXPECT_EQ(r.held.size(), wanted);
    EXPECT_TRUE(r.finals.empty()) << "the recv goes on";
    for (std::uint32_t id : r.held)
        b->recycle_buffer(id);
    r.held.clear();
    EXPECT_EQ(b->buffers_out(), 0u);
    EXPECT_LE(b->buffers_in_ring(), io_uring_backend::ring_resident);
    EXPECT_TRUE(b->cancel(r));
}

TEST(IoUringBackend, ACancelledMultishotRecvGivesItsUndeliveredBuffersBack) {
    MAKE_OR_SKIP(b);
    auto s = corio::test::make_socket_pair();
    auto r = std::make_unique<chunk_reader>(*b, s.first.get());
    ASSERT_FALSE(start(*b, *r));
    b->wait(0ns);
    write_all(s.second.get(), "some bytes");
    ASSERT_TRUE(b->cancel(*r));
    r.reset(); // freed at once (ASan): no completion may reach it
    corio::test::settle(*b);
    EXPECT_EQ(b->buffers_out(), 0u);
    EXPECT_FALSE(b->has_pending());
}

/// A multishot accept that keeps the fds it accepts (closed with it).
struct fd_acceptor : test_op {
    std::vector<unique_fd> fds;
    std::vector<std::int64_t> finals; ///< results of the completions without m_more
    /// Called with each accepted fd (after it is kept).
    std::function<void(fd_acceptor&)> on_fd;

    explicit fd_acceptor(int listener) : test_op(io_kind::accept, listener) {
        m_multishot = true;
        m_complete = [](corio::detail::io_operation* op) noexcept {
            auto* self = static_cast<fd_acceptor*>(op);
            if (self->m_result >= 0) {
                self->fds.emplace_back(static_cast<int>(self->m_result));
                if (self->on_fd)
                    self->on_fd(*self);
            }
            if (!self->m_more)
                self->finals.push_back(self->m_result);
        };
    }
};

/// `n` clients connected to `listener` (queued there until accepted).
std::vector<unique_fd> connect_clients(int listener, int n) {
    std::vector<unique_fd> clients;
    const auto address = corio::test::local_address(listener);
    for (int i = 0; i < n; ++i) {
        clients.push_back(corio::test::make_inet_socket(SOCK_STREAM));
        corio::test::connect_now(clients.back().get(), address);
    }
    return clients;
}

TEST(IoUringBackend, MultishotAcceptDeliversEveryConnectionFromOneSubmission) {
    MAKE_OR_SKIP(b);
    ASSERT_TRUE(b->caps().multishot_accept);
    const unique_fd listener = corio::test::make_tcp_listener(128);
    fd_acceptor a(listener.get());
    ASSERT_FALSE(start(*b, a));
    b->wait(0ns);
    std::vector<unique_fd> clients = connect_clients(listener.get(), 20);
    ASSERT_TRUE(drive(*b, [&] { return a.fds.size() == 20; }));
    EXPECT_TRUE(a.finals.empty()) << "the accept goes on";
    for (const unique_fd& fd : a.fds) {
        EXPECT_TRUE(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK);
        EXPECT_TRUE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC);
    }
    // And more later, still from the same submission.
    std::vector<unique_fd> more = connect_clients(listener.get(), 5);
    ASSERT_TRUE(drive(*b, [&] { return a.fds.size() == 25; }));
    EXPECT_TRUE(b->has_pending());
    EXPECT_TRUE(b->cancel(a));
    EXPECT_FALSE(b->has_pending());
    corio::test::settle(*b);
    EXPECT_EQ(a.fds.size(), 25u);
}

TEST(IoUringBackend, StopEndsAMultishotAcceptAfterDeliveringWhatItAccepted) {
    MAKE_OR_SKIP(b);
    const std::size_t before = corio::test::open_fd_count();
    {
        const unique_fd listener = corio::test::make_tcp_listener(128);
        fd_acceptor a(listener.get());
        ASSERT_FALSE(start(*b, a));
        b->wait(0ns);
        std::vector<unique_fd> clients = connect_clients(listener.get(), 10);
        ASSERT_TRUE(drive(*b, [&] { return !a.fds.empty(); }));
        b->stop(a);
        ASSERT_TRUE(drive(*b, [&] { return !a.finals.empty(); }));
        EXPECT_EQ(a.finals.size(), 1u);
        EXPECT_FALSE(b->has_pending());
        // What the accept did not take is still queued on the listener, for the next accept.
        std::size_t taken = a.fds.size();
        while (taken < clients.size()) {
            test_op op(io_kind::accept, listener.get());
            const std::int64_t fd = run_op(*b, op);
            ASSERT_GE(fd, 0);
            a.fds.emplace_back(static_cast<int>(fd));
            ++taken;
        }
        EXPECT_EQ(a.fds.size(), 10u);
    }
    corio::test::settle(*b);
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

TEST(IoUringBackend, AMultishotAcceptCancelledMidBatchClosesTheConnectionsItAcceptedLate) {
    MAKE_OR_SKIP(b);
    const std::size_t before = corio::test::open_fd_count();
    for (int round = 0; round < 10; ++round) {
        const unique_fd listener = corio::test::make_tcp_listener(128);
        auto a = std::make_unique<fd_acceptor>(listener.get());
        ASSERT_FALSE(start(*b, *a));
        b->wait(0ns);
        std::vector<unique_fd> clients = connect_clients(listener.get(), 10);
        // Cancelled from its own first completion, while the others of the batch wait to be
        // delivered: they find the slot empty, and their fds must be closed, not leaked.
        std::size_t kept = 0;
        a->on_fd = [&](fd_acceptor& self) {
            kept = self.fds.size();
            EXPECT_TRUE(b->cancel(self));
            self.on_fd = nullptr;
        };
        fd_acceptor* raw = a.get();
        ASSERT_TRUE(drive(*b, [&] { return !raw->fds.empty(); }));
        EXPECT_EQ(raw->fds.size(), kept) << "no completion after the cancel";
        EXPECT_TRUE(raw->finals.empty());
        a.reset(); // ASan: nothing may reach it now
        corio::test::settle(*b);
        EXPECT_FALSE(b->has_pending());
    }
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

TEST(IoUringBackend, ACancelledMultishotAcceptLeaksNoFdWhateverTheTiming) {
    MAKE_OR_SKIP(b);
    const std::size_t before = corio::test::open_fd_count();
    for (int round = 0; round < 20; ++round) {
        const unique_fd listener = corio::test::make_tcp_listener(128);
        auto a = std::make_unique<fd_acceptor>(listener.get());
        ASSERT_FALSE(start(*b, *a));
        if (round % 2 == 1)
            b->wait(0ns); // in the kernel (else the SQE is still unsubmitted)
        std::vector<unique_fd> clients = connect_clients(listener.get(), round % 5);
        ASSERT_TRUE(b->cancel(*a));
        a.reset();
        corio::test::settle(*b);
        EXPECT_FALSE(b->has_pending());
    }
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

TEST(IoUringBackend, WithoutMultishotAcceptAMultishotAcceptRunsAsASingleAccept) {
    io_uring_options options;
    options.multishot_accept = false;
    MAKE_OR_SKIP(b, options);
    EXPECT_FALSE(b->caps().multishot_accept);
    const unique_fd listener = corio::test::make_tcp_listener(128);
    std::vector<unique_fd> clients = connect_clients(listener.get(), 3);
    fd_acceptor a(listener.get());
    ASSERT_FALSE(start(*b, a));
    ASSERT_TRUE(drive(*b, [&] { return !a.finals.empty(); }));
    corio::test::settle(*b);
    EXPECT_EQ(a.fds.size(), 1u) << "one connection, then it ends (m_more false)";
    ASSERT_EQ(a.finals.size(), 1u);
    EXPECT_GE(a.finals[0], 0);
    EXPECT_FALSE(b->has_pending());
}

TEST(IoUringBackend, TheWakerWakesTheRingFromAnotherThreadRepeatedly) {
    MAKE_OR_SKIP(b);
    std::shared_ptr<corio::detail::waker> w = b->get_waker();
    for (int i = 0; i < 20; ++i) {
        std::thread other([w] {
            std::this_thread::sleep_for(1ms);
            w->wake();
        });
        const auto t0 = std::chrono::steady_clock::now();
        b->wait(std::nullopt);
        other.join();
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    }
}

TEST(IoUringBackend, ABackendBuiltOnOneThreadRunsOnAnother) {
    MAKE_OR_SKIP(b);
    std::int64_t result = 0;
    std::thread loop_thread([&] {
        auto s = corio::test::make_socket_pair();
        write_all(s.second.get(), "abc");
        char buf[8];
        test_op op(io_kind::recv, s.first.get());
        set_buffer(op, buf, sizeof buf);
        result = run_op(*b, op);
        b.reset(); // destroyed on the thread that used it
    });
    loop_thread.join();
    EXPECT_EQ(result, 3);
}

TEST(IoUringBackend, ARingTheKernelRefusesIsASystemError) {
    io_uring_options options;
    options.sq_entries = 0; // the kernel refuses an empty ring
    EXPECT_THROW(io_uring_backend b(options), std::system_error);
}

// ------------------------------------------------------- the socket transport on io_uring ---

/// Counts the readiness reports of a transport.
struct counting_events final : corio::transport_events {
    int readable = 0;
    int writable = 0;
    void on_readable() noexcept override { ++readable; }
    void on_writable() noexcept override { ++writable; }
};

/// A loop on io_uring, or null when the kernel refuses it.
std::unique_ptr<corio::event_loop> make_uring_loop() {
    corio::loop_options options;
    options.backend = "io_uring";
    try {
        return std::make_unique<corio::event_loop>(options);
    } catch (const std::exception&) {
        return nullptr;
    }
}

/// Reads everything the transport holds now (without waiting).
std::string read_available(corio::detail::socket_transport& t) {
    std::string out;
    std::array<std::byte, 3000> buf; // not a multiple of the buffer size: chunks get split
    for (;;) {
        const std::int64_t n = t.try_read(buf);
        if (n <= 0)
            return out;
        out.append(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(n));
    }
}

TEST(IoUringTransport, AStreamThatIsNotReadHoldsAboutItsBoundOfThePoolAndLosesNothing) {
    auto loop = make_uring_loop();
    if (!loop)
        GTEST_SKIP() << "io_uring is not available here";
    auto& b = static_cast<io_uring_backend&>(loop->io_backend());
    ASSERT_TRUE(b.caps().provided_buffers);
    auto s = corio::test::make_socket_pair();
    corio::test::set_buffer_sizes(s.second.get(), 1 << 20);
    corio::test::set_buffer_sizes(s.first.get(), 1 << 20);
    corio::detail::socket_transport t(*loop, corio::net::socket::adopt(s.first.release()));
    counting_events ev;
    t.set_events(&ev);
    t.wait_readable();
    std::string sent;
    for (int i = 0; sent.size() < 600 * 1024; ++i)
        sent += "line " + std::to_string(i) + "\n";
    std::size_t written = 0;
    // The peer writes far more than the bound while the stream reads nothing.
    for (int round = 0; round < 200 && written < sent.size(); ++round) {
        const ssize_t n =
            ::send(s.second.get(), sent.data() + written, sent.size() - written, MSG_DONTWAIT);
        if (n > 0)
            written += static_cast<std::size_t>(n);
        b.wait(1ms);
    }
    for (int i = 0; i < 20; ++i)
        b.wait(1ms);
    EXPECT_EQ(ev.readable, 1);
    // The recv stops past the bound. The kernel fills buffers while it runs the recv (one
    // burst, bounded by what the socket holds), so the overshoot is a burst, not the pool.
    const std::uint32_t held = b.buffers_out();
    EXPECT_GE(held * 4096u, 64u * 1024);
    EXPECT_LT(held * 4096u, written) << "the recv did not stop";
    for (int i = 0; i < 20; ++i)
        b.wait(1ms);
    EXPECT_EQ(b.buffers_out(), held) << "the recv went on draining the shared pool";
    // Reading resumes the recv; every byte arrives, in order.
    std::string got;
    for (int round = 0; round < 2000 && got.size() < sent.size(); ++round) {
        got += read_available(t);
        if (written < sent.size()) {
            const ssize_t n =
                ::send(s.second.get(), sent.data() + written, sent.size() - written, MSG_DONTWAIT);
            if (n > 0)
                written += static_cast<std::size_t>(n);
        }
        b.wait(1ms);
    }
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_TRUE(got == sent) << "the bytes were reordered or lost";
    t.close();
    EXPECT_EQ(b.buffers_out(), 0u);
    EXPECT_FALSE(b.has_pending());
}

TEST(IoUringTransport, TheEndOfTheStreamAndErrorsComeAfterTheDataBeforeThem) {
    auto loop = make_uring_loop();
    if (!loop)
        GTEST_SKIP() << "io_uring is not available here";
    auto& b = static_cast<io_uring_backend&>(loop->io_backend());
    {
        auto s = corio::test::make_socket_pair();
        corio::detail::socket_transport t(*loop, corio::net::socket::adopt(s.first.release()));
        counting_events ev;
        t.set_events(&ev);
        t.wait_readable();
        write_all(s.second.get(), "last words");
        ::shutdown(s.second.get(), SHUT_WR);
        ASSERT_TRUE(drive(b, [&] { return ev.readable == 1; }));
        for (int i = 0; i < 5; ++i)
            b.wait(1ms);
        EXPECT_EQ(read_available(t), "last words");
        std::array<std::byte, 16> buf;
        EXPECT_EQ(t.try_read(buf), 0);
        EXPECT_EQ(t.try_read(buf), 0);
    }
    {
        auto s = corio::test::make_tcp_pair();
        corio::detail::socket_transport t(*loop, corio::net::socket::adopt(s.first.release()));
        counting_events ev;
        t.set_events(&ev);
        t.wait_readable();
        write_all(s.second.get(), "before the reset");
        corio::test::set_reset_on_close(s.second.get());
        ASSERT_TRUE(drive(b, [&] { return ev.readable == 1; }));
        s.second.reset(); // RST
        for (int i = 0; i < 5; ++i)
            b.wait(1ms);
        std::array<std::byte, 64> buf;
        const std::int64_t n = t.try_read(buf);
        ASSERT_EQ(n, 16);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), 16), "before the reset");
        try {
            (void)t.try_read(buf);
            ADD_FAILURE() << "the reset was not reported";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code().value(), ECONNRESET);
        }
    }
    EXPECT_EQ(b.buffers_out(), 0u);
}

TEST(IoUringTransport, ClosingWithChunksHeldGivesThemBackAndLeaksNoFd) {
    auto loop = make_uring_loop();
    if (!loop)
        GTEST_SKIP() << "io_uring is not available here";
    auto& b = static_cast<io_uring_backend&>(loop->io_backend());
    const std::size_t before = corio::test::open_fd_count();
    for (int i = 0; i < 20; ++i) {
        auto s = corio::test::make_socket_pair();
        auto t = std::make_unique<corio::detail::socket_transport>(
            *loop, corio::net::socket::adopt(s.first.release()));
        counting_events ev;
        t->set_events(&ev);
        t->wait_readable();
        write_all(s.second.get(), std::string(10000, 'q'));
        b.wait(1ms);
        write_all(s.second.get(), "more, maybe not delivered yet");
        if (i % 2)
            t->abort();
        t.reset(); // cancels the recv synchronously (ASan: nothing reaches the freed transport)
        b.wait(1ms);
    }
    EXPECT_EQ(b.buffers_out(), 0u);
    EXPECT_FALSE(b.has_pending());
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

} // namespace

#endif

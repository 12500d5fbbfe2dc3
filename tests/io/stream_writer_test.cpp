// stream_writer: direct sends, buffering and backpressure, half-close, close, abort, and how
// peer failures surface.

#include "corio/core/create_task.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/io/streams.hpp"
#include "corio/net/socket.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "io/io_helpers.hpp"
#include "support/loop_helpers.hpp"
#include "support/scoped_signal.hpp"
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::stream_writer;
using corio::task;
using corio::test::make_stream_pair;
using corio::test::make_streams_and_peer;
using corio::test::recv_all;
using corio::test::run_virtual;
using corio::test::send_text;
using corio::test::settle;
using std::chrono::milliseconds;

/// Shrinks the kernel buffers between the two ends so that a few KiB fill them.
void make_buffers_small(corio::net::socket& writer_side, corio::net::tcp_stream& reader_side) {
    writer_side.set_option(SOL_SOCKET, SO_SNDBUF, 16384);
    reader_side.set_option(SOL_SOCKET, SO_RCVBUF, 65536);
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('A' + (i * 7) % 26);
    return s;
}

TEST(StreamWriter, AWriteWithNothingBufferedGoesStraightToTheSocket) {
    struct result {
        std::size_t buffered = 1;
        std::string received;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        result out;
        co_await s.writer.write("hello");
        out.buffered = s.writer.write_buffer_size();
        s.writer.close();
        out.received = co_await recv_all(peer);
        co_return out;
    }());
    EXPECT_EQ(r.buffered, 0u);
    EXPECT_EQ(r.received, "hello");
}

TEST(StreamWriter, WriteWaitsWhileTheBufferIsAboveTheHighWaterMark) {
    struct result {
        bool blocked = false;
        std::size_t most_buffered = 0;
        std::size_t most_after_write = 0;
        std::size_t received = 0;
        bool intact = false;
    };
    const std::string data = pattern(1 << 20);
    auto r = run_virtual([](const std::string& data) -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        make_buffers_small(*s.writer.socket(), peer);
        result out;
        // The buffer's size right after each write took its bytes: the kernel may take more of
        // it later, while the writer waits, so a look from outside would see less.
        auto writer = [](stream_writer w, const std::string& d, result& out) -> task<void> {
            for (std::size_t at = 0; at < d.size(); at += 16384) {
                const std::size_t before = w.write_buffer_size();
                const std::size_t n = std::min<std::size_t>(16384, d.size() - at);
                out.most_buffered = std::max(out.most_buffered, before + n);
                co_await w.write(std::string_view(d).substr(at, n));
                out.most_after_write = std::max(out.most_after_write, w.write_buffer_size());
            }
            w.close();
        };
        auto t = corio::create_task(writer(s.writer, data, out));
        co_await settle();
        out.blocked = !t.done();
        std::string got = co_await recv_all(peer);
        co_await t;
        out.received = got.size();
        out.intact = got == data;
        co_return out;
    }(data));
    EXPECT_TRUE(r.blocked);
    EXPECT_GT(r.most_buffered, 64u * 1024);
    EXPECT_LE(r.most_buffered, 64u * 1024 + 16384);
    EXPECT_LE(r.most_after_write, 64u * 1024);
    EXPECT_EQ(r.received, data.size());
    EXPECT_TRUE(r.intact);
}

TEST(StreamWriter, DrainReturnsOnceTheBufferIsBackAtTheLowWaterMark) {
    struct result {
        std::size_t before = 0;
        std::size_t after = 0;
        bool waited = false;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        make_buffers_small(*s.writer.socket(), peer);
        result out;
        s.writer.write_nowait(pattern(200'000));
        out.before = s.writer.write_buffer_size();
        auto drainer = [](stream_writer w) -> task<std::size_t> {
            co_await w.drain();
            co_return w.write_buffer_size();
        };
        auto d = corio::create_task(drainer(s.writer));
        co_await settle();
        out.waited = !d.done();
        // Read slowly, so that the drain sees the buffer pass the low-water mark.
        std::array<std::byte, 4096> buf;
        while (!d.done())
            (void)co_await peer.recv(buf);
        out.after = co_await d;
        co_return out;
    }());
    EXPECT_GT(r.before, 64u * 1024);
    EXPECT_TRUE(r.waited);
    EXPECT_LE(r.after, 16u * 1024);
}

TEST(StreamWriter, WriteNowaitBuffersWithoutBoundAndKeepsTheOrder) {
    auto r = run_virtual([]() -> task<bool> {
        auto [s, peer] = co_await make_streams_and_peer();
        make_buffers_small(*s.writer.socket(), peer);
        std::string expected;
        for (int i = 0; i < 2000; ++i) {
            std::string piece = std::to_string(i) + ":" + pattern(100 + i % 50) + "\n";
            s.writer.write_nowait(piece);
            expected += piece;
        }
        EXPECT_GT(s.writer.write_buffer_size(), 64u * 1024);
        s.writer.close();
        co_return co_await recv_all(peer) == expected;
    }());
    EXPECT_TRUE(r);
}

TEST(StreamWriter, WritelinesWritesEveryPieceInOrder) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        const std::vector<std::string> lines{"one\n", "two\n", "three\n"};
        co_await s.writer.writelines(lines);
        s.writer.close();
        co_return co_await recv_all(peer);
    }());
    EXPECT_EQ(got, "one\ntwo\nthree\n");
}

TEST(StreamWriter, WriteEofHalfClosesAfterFlushingAndReadingGoesOn) {
    struct result {
        std::size_t received = 0;
        std::string answer;
        bool can = false;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        make_buffers_small(*s.writer.socket(), peer);
        result out;
        out.can = s.writer.can_write_eof();
        s.writer.write_nowait(pattern(300'000));
        s.writer.write_eof(); // queued behind the buffer
        out.received = (co_await recv_all(peer)).size();
        co_await send_text(peer, "still open\n");
        out.answer = co_await s.reader.readline();
        co_return out;
    }());
    EXPECT_TRUE(r.can);
    EXPECT_EQ(r.received, 300'000u);
    EXPECT_EQ(r.answer, "still open\n");
}

TEST(StreamWriter, WriteAfterWriteEofIsALogicError) {
    auto thrown = run_virtual([]() -> task<bool> {
        auto [s, peer] = co_await make_streams_and_peer();
        s.writer.write_eof();
        try {
            s.writer.write_nowait("late");
        } catch (const std::logic_error&) {
            co_return true;
        }
        co_return false;
    }());
    EXPECT_TRUE(thrown);
}

TEST(StreamWriter, CloseFlushesTheBufferThenWaitClosedReturns) {
    struct result {
        bool closing = false;
        bool waited = false;
        std::size_t received = 0;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        make_buffers_small(*s.writer.socket(), peer);
        result out;
        s.writer.write_nowait(pattern(250'000));
        s.writer.close();
        out.closing = s.writer.is_closing();
        auto waiter = [](stream_writer w) -> task<void> { co_await w.wait_closed(); };
        auto t = corio::create_task(waiter(s.writer));
        co_await settle();
        out.waited = !t.done();
        out.received = (co_await recv_all(peer)).size();
        co_await t;
        co_return out;
    }());
    EXPECT_TRUE(r.closing);
    EXPECT_TRUE(r.waited);
    EXPECT_EQ(r.received, 250'000u);
}

TEST(StreamWriter, ClosingEndsAPendingReadOfTheSameStreamWithTheEndOfTheStream) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        auto reader = corio::create_task([](corio::stream_reader r) -> task<std::string> {
            co_return co_await r.readline();
        }(s.reader));
        co_await send_text(peer, "partial");
        co_await settle();
        s.writer.close();
        co_return co_await reader;
    }());
    EXPECT_EQ(got, "partial");
}

TEST(StreamWriter, WriteAfterCloseThrowsBrokenPipe) {
    auto code = run_virtual([]() -> task<int> {
        auto [s, peer] = co_await make_streams_and_peer();
        s.writer.close();
        try {
            co_await s.writer.write("late");
        } catch (const std::system_error& e) {
            co_return e.code().value();
        }
        co_return 0;
    }());
    EXPECT_EQ(code, EPIPE);
}

TEST(StreamWriter, AbortDropsTheBufferResetsThePeerAndFailsAWaitingDrain) {
    struct result {
        int drain = 0;
        int peer = 0;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        make_buffers_small(*s.writer.socket(), peer);
        result out;
        s.writer.write_nowait(pattern(300'000));
        auto drainer = [](stream_writer w) -> task<int> {
            try {
                co_await w.drain();
            } catch (const std::system_error& e) {
                co_return e.code().value();
            }
            co_return 0;
        };
        auto d = corio::create_task(drainer(s.writer));
        co_await settle();
        s.writer.abort();
        out.drain = co_await d;
        try {
            (void)co_await recv_all(peer);
        } catch (const std::system_error& e) {
            out.peer = e.code().value();
        }
        co_return out;
    }());
    EXPECT_EQ(r.drain, EPIPE);
    EXPECT_EQ(r.peer, ECONNRESET);
}

TEST(StreamWriter, APeerResetSurfacesAsSystemErrorOnTheWriterWithoutSigpipe) {
    // SIGPIPE left at its default action would kill the test process.
    const corio::test::scoped_signal default_sigpipe(SIGPIPE, SIG_DFL);
    struct result {
        int write = 0;
        int wait_closed = 0;
        bool closing = false;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        peer.abort();
        co_await settle();
        result out;
        try {
            for (int i = 0; i < 100; ++i) {
                co_await s.writer.write(pattern(1000));
                co_await settle(1);
            }
        } catch (const std::system_error& e) {
            out.write = e.code().value();
        }
        out.closing = s.writer.is_closing();
        try {
            co_await s.writer.wait_closed();
        } catch (const std::system_error& e) {
            out.wait_closed = e.code().value();
        }
        co_return out;
    }());
    EXPECT_TRUE(r.write == EPIPE || r.write == ECONNRESET) << r.write;
    EXPECT_EQ(r.wait_closed, r.write);
    EXPECT_TRUE(r.closing);
}

TEST(StreamWriter, DroppingTheStreamsFlushesWhatIsStillBufferedThenCloses) {
    auto received = run_virtual([]() -> task<std::size_t> {
        auto p = co_await make_streams_and_peer();
        make_buffers_small(*p.s.writer.socket(), p.peer);
        p.s.writer.write_nowait(pattern(400'000));
        EXPECT_GT(p.s.writer.write_buffer_size(), 0u);
        p.s = corio::streams{}; // the last handles go: a background task flushes
        co_return (co_await recv_all(p.peer)).size();
    }());
    EXPECT_EQ(received, 400'000u);
}

TEST(StreamWriter, EndpointsAreTheSocketsOwn) {
    auto ok = run_virtual([]() -> task<bool> {
        auto [a, b] = co_await make_stream_pair();
        const bool peers = a.writer.peer_endpoint() == b.writer.local_endpoint() &&
                           a.writer.local_endpoint() == b.writer.peer_endpoint();
        const bool address = a.writer.peer_address().to_endpoint() == a.writer.peer_endpoint();
        const bool sockets = a.writer.socket() != nullptr;
        const bool transport = a.writer.transport().socket() == a.writer.socket();
        const bool all = peers && address && sockets && transport;
        co_return all;
    }());
    EXPECT_TRUE(ok);
}

TEST(StreamWriter, WaterMarksMustBeOrdered) {
    auto thrown = run_virtual([]() -> task<bool> {
        auto [s, peer] = co_await make_streams_and_peer();
        s.writer.set_write_buffer_limits(1000, 10);
        try {
            s.writer.set_write_buffer_limits(10, 1000);
        } catch (const std::invalid_argument&) {
            co_return true;
        }
        co_return false;
    }());
    EXPECT_TRUE(thrown);
}

TEST(StreamWriter, EveryFdIsClosedOnceTheStreamsAreGoneEvenWithDataBuffered) {
    const std::size_t before = corio::test::open_fd_count();
    run_virtual([]() -> task<void> {
        auto p = co_await make_streams_and_peer();
        make_buffers_small(*p.s.writer.socket(), p.peer);
        p.s.writer.write_nowait(pattern(100'000));
        p.s = corio::streams{};
        (void)co_await recv_all(p.peer);
        co_await settle();
    }());
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

} // namespace

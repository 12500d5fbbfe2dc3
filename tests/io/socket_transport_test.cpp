// The socket transport's writes as the streams see them, under every backend. On io_uring a
// small write is a send queued in the ring until the end of the loop's turn (its bytes held by
// the transport), so these check what must not change with that: order, and no byte lost to
// a close, a half-close, dropped handles or a failure that nobody waits for.

#include "corio/core/create_task.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/io/streams.hpp"
#include "corio/runtime/event_loop.hpp"

#include "io/io_helpers.hpp"
#include "support/loop_helpers.hpp"
#include "support/scoped_signal.hpp"
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <system_error>

namespace {

using corio::task;
using corio::test::make_stream_pair;
using corio::test::make_streams_and_peer;
using corio::test::recv_all;
using corio::test::run_virtual;
using corio::test::settle;

/// Pieces of 1 to 5000 bytes (some longer than a queued send holds), each its own letter.
std::string piece(int i) {
    const auto size = static_cast<std::size_t>(1 + (i * 977) % 5000);
    return std::string(size, static_cast<char>('a' + i % 26));
}

TEST(SocketTransport, SmallWritesInARowArriveWholeAndInOrder) {
    struct result {
        std::string sent;
        std::string received;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        result out;
        for (int i = 0; i < 300; ++i) {
            const std::string p = piece(i);
            out.sent += p;
            if (i % 3 == 0)
                co_await s.writer.write(p); // others go while a send is still queued
            else
                s.writer.write_nowait(p);
        }
        s.writer.close();
        out.received = co_await recv_all(peer);
        co_return out;
    }());
    EXPECT_EQ(r.received.size(), r.sent.size());
    EXPECT_TRUE(r.received == r.sent);
}

TEST(SocketTransport, CloseRightAfterAWriteSendsTheBytesThenTheEnd) {
    auto received = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await s.writer.write("last words");
        s.writer.close();
        co_await s.writer.wait_closed();
        co_return co_await recv_all(peer);
    }());
    EXPECT_EQ(received, "last words");
}

TEST(SocketTransport, WriteEofRightAfterAWriteSendsTheBytesBeforeTheEndAndReadingGoesOn) {
    struct result {
        std::string received;
        std::string reply;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [a, b] = co_await make_stream_pair();
        co_await a.writer.write("question");
        a.writer.write_eof();
        result out;
        out.received = co_await b.reader.read(-1); // up to the end of the stream
        co_await b.writer.write("answer");
        b.writer.close();
        out.reply = co_await a.reader.read(-1);
        a.writer.close();
        co_return out;
    }());
    EXPECT_EQ(r.received, "question");
    EXPECT_EQ(r.reply, "answer");
}

TEST(SocketTransport, DroppingTheStreamsRightAfterAWriteStillSendsTheBytes) {
    auto received = run_virtual([]() -> task<std::string> {
        auto p = co_await make_streams_and_peer();
        co_await p.s.writer.write("sent before the handles went");
        p.s = corio::streams{};
        co_return co_await recv_all(p.peer);
    }());
    EXPECT_EQ(received, "sent before the handles went");
}

TEST(SocketTransport, AWriteToAResetPeerFailsTheStreamEvenWhenNothingWaitsOnIt) {
    // SIGPIPE left at its default action would kill the test process.
    const corio::test::scoped_signal default_sigpipe(SIGPIPE, SIG_DFL);
    struct result {
        bool closing = false;
        int drain = 0;
        bool read_failed_or_ended = false;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        peer.abort();
        co_await settle();
        result out;
        try {
            // Refused at once by a send call, or accepted into a queued send that fails later.
            co_await s.writer.write("into the void");
        } catch (const std::system_error&) {
        }
        co_await settle();
        out.closing = s.writer.is_closing();
        try {
            co_await s.writer.drain();
        } catch (const std::system_error& e) {
            out.drain = e.code().value();
        }
        try {
            out.read_failed_or_ended = (co_await s.reader.read()).empty();
        } catch (const std::system_error&) {
            out.read_failed_or_ended = true;
        }
        co_return out;
    }());
    EXPECT_TRUE(r.closing);
    EXPECT_TRUE(r.drain == EPIPE || r.drain == ECONNRESET) << r.drain;
    EXPECT_TRUE(r.read_failed_or_ended);
}

TEST(SocketTransport, AWriteBufferLimitOfZeroMakesDrainWaitUntilTheBytesAreSent) {
    auto received = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        s.writer.set_write_buffer_limits(0, 0);
        co_await s.writer.write("flushed"); // returns once nothing is held
        EXPECT_EQ(s.writer.write_buffer_size(), 0u);
        // The bytes are in the kernel: the peer reads them without this side running again.
        char buf[64];
        const ssize_t n = ::recv(peer.native_handle(), buf, sizeof buf, MSG_DONTWAIT);
        std::string got = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
        s.writer.close();
        co_return got;
    }());
    EXPECT_EQ(received, "flushed");
}

} // namespace

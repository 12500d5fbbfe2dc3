// Cancelling every stream operation while it waits: the operation is withdrawn before the frame
// that owns its buffer and result goes (ASan checks that nothing writes into a freed frame), and
// a cancelled read loses no byte: what it had taken goes back to the stream's buffer.

#include "corio/core/create_task.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/io/streams.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "io/io_helpers.hpp"
#include "support/cancel_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace {

using corio::stream_reader;
using corio::stream_writer;
using corio::task;
using corio::test::cancel_while_pending;
using corio::test::make_streams_and_peer;
using corio::test::recv_all;
using corio::test::run_virtual;
using corio::test::send_text;
using corio::test::settle;

/// Cancels a read made by `read` while it waits for more than `before` (already sent), then
/// sends "|after" and the end of the stream, and returns everything the stream still yields:
/// it must be `before` + "|after".
template <typename Read>
std::string remaining_after_cancelled_read(std::string before, Read read) {
    return run_virtual([](std::string before, Read read) -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, before);
        co_await settle();
        const bool cancelled = co_await cancel_while_pending(read(s.reader));
        EXPECT_TRUE(cancelled);
        co_await send_text(peer, "|after");
        peer.shutdown_send();
        co_await settle(); // a read left behind would write into its freed frame now
        co_return co_await s.reader.read();
    }(std::move(before), read));
}

TEST(StreamCancellation, ACancelledReadLosesNothing) {
    auto got = remaining_after_cancelled_read("", [](stream_reader r) -> task<void> {
        (void)co_await r.read(100);
        ADD_FAILURE() << "read completed";
    });
    EXPECT_EQ(got, "|after");
}

TEST(StreamCancellation, ACancelledReadToTheEndGivesBackWhatItHadRead) {
    auto got = remaining_after_cancelled_read("taken by read()", [](stream_reader r) -> task<void> {
        (void)co_await r.read();
        ADD_FAILURE() << "read completed";
    });
    EXPECT_EQ(got, "taken by read()|after");
}

TEST(StreamCancellation, ACancelledReadexactlyGivesBackTheBytesItHadTaken) {
    auto got = remaining_after_cancelled_read("0123456789", [](stream_reader r) -> task<void> {
        (void)co_await r.readexactly(1000);
        ADD_FAILURE() << "readexactly completed";
    });
    EXPECT_EQ(got, "0123456789|after");
}

TEST(StreamCancellation, ACancelledReadlineLeavesThePartialLineBuffered) {
    auto got = remaining_after_cancelled_read("no newline", [](stream_reader r) -> task<void> {
        (void)co_await r.readline();
        ADD_FAILURE() << "readline completed";
    });
    EXPECT_EQ(got, "no newline|after");
}

TEST(StreamCancellation, ACancelledReaduntilLeavesTheDataBuffered) {
    auto got = remaining_after_cancelled_read("abc", [](stream_reader r) -> task<void> {
        (void)co_await r.readuntil("\r\n", "\n\n");
        ADD_FAILURE() << "readuntil completed";
    });
    EXPECT_EQ(got, "abc|after");
}

TEST(StreamCancellation, ACancelledNextLineLosesNothing) {
    auto got = remaining_after_cancelled_read("partial", [](stream_reader r) -> task<void> {
        (void)co_await r.next_line();
        ADD_FAILURE() << "next_line completed";
    });
    EXPECT_EQ(got, "partial|after");
}

TEST(StreamCancellation, ACancelledReadSomeNeverWritesIntoItsFreedBuffer) {
    auto got = remaining_after_cancelled_read("", [](stream_reader r) -> task<void> {
        // The buffer is in this frame, which is destroyed after the cancellation.
        std::array<std::byte, 4096> buf;
        (void)co_await r.read_some(buf);
        ADD_FAILURE() << "read_some completed";
    });
    EXPECT_EQ(got, "|after");
}

TEST(StreamCancellation, ACancelledReadSomeIntoAHeapBufferNeverTouchesItAgain) {
    auto got = remaining_after_cancelled_read("", [](stream_reader r) -> task<void> {
        auto buf = std::make_unique<std::byte[]>(4096);
        (void)co_await r.read_some(std::span(buf.get(), 4096));
        ADD_FAILURE() << "read_some completed";
    });
    EXPECT_EQ(got, "|after");
}

TEST(StreamCancellation, ACancelledWaitReadableLosesNothing) {
    auto got = remaining_after_cancelled_read("", [](stream_reader r) -> task<void> {
        co_await r.wait_readable();
        ADD_FAILURE() << "wait_readable completed";
    });
    EXPECT_EQ(got, "|after");
}

TEST(StreamCancellation, AReadCanFollowACancelledOne) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        const bool cancelled = co_await cancel_while_pending(
            [](stream_reader r) -> task<void> { (void)co_await r.readline(); }(s.reader));
        EXPECT_TRUE(cancelled);
        co_await send_text(peer, "next\n");
        co_return co_await s.reader.readline();
    }());
    EXPECT_EQ(got, "next\n");
}

/// Cancels a writer-side wait made by `op` on a stream whose peer does not read yet, then lets
/// the peer read everything: the bytes written before the cancellation all arrive.
template <typename Op>
std::size_t received_after_cancelled_write_wait(Op op) {
    return run_virtual([](Op op) -> task<std::size_t> {
        auto [s, peer] = co_await make_streams_and_peer();
        s.writer.socket()->set_option(SOL_SOCKET, SO_SNDBUF, 4096);
        peer.set_option(SOL_SOCKET, SO_RCVBUF, 16384);
        const bool cancelled = co_await cancel_while_pending(op(s.writer));
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(s.writer.is_closing());
        s.writer.close();
        const std::string got = co_await recv_all(peer);
        co_return got.size();
    }(op));
}

TEST(StreamCancellation, ACancelledWriteKeepsItsBytesAndOnlyStopsWaiting) {
    const std::size_t got = received_after_cancelled_write_wait([](stream_writer w) -> task<void> {
        const std::string big(500'000, 'w');
        co_await w.write(big); // above the high-water mark: waits
        ADD_FAILURE() << "write completed";
    });
    EXPECT_EQ(got, 500'000u);
}

TEST(StreamCancellation, ACancelledDrainLosesNothing) {
    const std::size_t got = received_after_cancelled_write_wait([](stream_writer w) -> task<void> {
        w.write_nowait(std::string(300'000, 'd'));
        co_await w.drain();
        ADD_FAILURE() << "drain completed";
    });
    EXPECT_EQ(got, 300'000u);
}

TEST(StreamCancellation, ACancelledWaitClosedLosesNothing) {
    const std::size_t got = received_after_cancelled_write_wait([](stream_writer w) -> task<void> {
        w.write_nowait(std::string(100'000, 'c'));
        co_await w.wait_closed();
        ADD_FAILURE() << "wait_closed completed";
    });
    EXPECT_EQ(got, 100'000u);
}

TEST(StreamCancellation, ReadsAndWritesParkedWhenTheLoopClosesLeaveNothingBehind) {
    const std::size_t before = corio::test::open_fd_count();
    {
        corio::event_loop loop(corio::test::virtual_clock());
        std::vector<corio::task_handle<void>> handles;
        loop.run_until_complete([](std::vector<corio::task_handle<void>>& hs) -> task<void> {
            auto [s, peer] = co_await make_streams_and_peer();
            s.writer.socket()->set_option(SOL_SOCKET, SO_SNDBUF, 4096);
            hs.push_back(corio::create_task([](stream_reader r) -> task<void> {
                (void)co_await r.readexactly(100);
            }(s.reader)));
            hs.push_back(corio::create_task([](stream_writer w) -> task<void> {
                co_await w.write(std::string(1 << 20, 'x'));
            }(s.writer)));
            hs.push_back(corio::create_task(
                [](stream_writer w) -> task<void> { co_await w.wait_closed(); }(s.writer)));
            hs.push_back(corio::create_task([](corio::net::tcp_stream p) -> task<void> {
                co_await corio::sleep(std::chrono::hours(1));
                p.close();
            }(std::move(peer))));
            co_await settle();
        }(handles));
        loop.set_exception_handler([](corio::scheduler&, const corio::exception_context&) {});
        loop.close(); // the parked frames are destroyed with their operations pending
        handles.clear();
    }
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

} // namespace

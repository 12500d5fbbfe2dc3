// stream_reader: asyncio's StreamReader semantics over a TCP connection whose other end the test
// drives by hand.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/io/streams.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "io/io_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::incomplete_read_error;
using corio::limit_overrun_error;
using corio::stream_options;
using corio::stream_reader;
using corio::task;
using corio::test::make_streams_and_peer;
using corio::test::run_virtual;
using corio::test::send_text;
using corio::test::settle;
using std::chrono::milliseconds;

stream_options with_limit(std::size_t limit) {
    stream_options o;
    o.limit = limit;
    return o;
}

TEST(StreamReader, ReadReturnsWhatIsBufferedUpToN) {
    auto got = run_virtual([]() -> task<std::vector<std::string>> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, "hello world");
        co_await settle();
        std::vector<std::string> out;
        out.push_back(co_await s.reader.read(5));
        out.push_back(co_await s.reader.read(100));
        co_return out;
    }());
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], "hello");
    EXPECT_EQ(got[1], " world");
}

TEST(StreamReader, ReadWaitsForTheNextBytesWhenNothingIsBuffered) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        auto later = [](corio::net::tcp_stream& p) -> task<void> {
            co_await corio::sleep(milliseconds(5));
            co_await send_text(p, "late");
        };
        auto sender = corio::create_task(later(peer));
        std::string r = co_await s.reader.read(100);
        co_await sender;
        co_return r;
    }());
    EXPECT_EQ(got, "late");
}

TEST(StreamReader, ReadOfZeroBytesReturnsAtOnce) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_return co_await s.reader.read(0);
    }());
    EXPECT_EQ(got, "");
}

TEST(StreamReader, ReadWithoutACountReadsUntilTheEndOfTheStream) {
    std::string sent(300'000, '\0');
    for (std::size_t i = 0; i < sent.size(); ++i)
        sent[i] = static_cast<char>('a' + i % 23);
    auto got = run_virtual([](std::string text) -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        auto send = [](corio::net::tcp_stream& p, std::string t) -> task<void> {
            co_await send_text(p, std::move(t));
            p.shutdown_send();
        };
        auto sender = corio::create_task(send(peer, text));
        std::string r = co_await s.reader.read();
        co_await sender;
        co_return r;
    }(sent));
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_TRUE(got == sent);
}

TEST(StreamReader, ReadReturnsEmptyAtTheEndOfTheStreamAndAtEofTurnsTrue) {
    struct result {
        std::string first, second;
        bool eof_before = true, eof_after = false;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, "x");
        peer.shutdown_send();
        co_await settle();
        result out;
        out.eof_before = s.reader.at_eof();
        out.first = co_await s.reader.read(10);
        out.second = co_await s.reader.read(10);
        out.eof_after = s.reader.at_eof();
        co_return out;
    }());
    EXPECT_FALSE(r.eof_before);
    EXPECT_EQ(r.first, "x");
    EXPECT_EQ(r.second, "");
    EXPECT_TRUE(r.eof_after);
}

TEST(StreamReader, ReadexactlyWaitsUntilAllTheBytesHaveCome) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        auto drip = [](corio::net::tcp_stream& p) -> task<void> {
            static constexpr const char* pieces[] = {"01", "234", "5678", "9abc"};
            for (const char* piece : pieces) {
                co_await corio::sleep(milliseconds(2));
                co_await send_text(p, piece);
            }
        };
        auto sender = corio::create_task(drip(peer));
        std::string r = co_await s.reader.readexactly(10);
        r += '|';
        r += co_await s.reader.read(10);
        co_await sender;
        co_return r;
    }());
    EXPECT_EQ(got, "0123456789|abc");
}

TEST(StreamReader, ReadexactlyThrowsIncompleteReadErrorWithThePartialBytes) {
    struct result {
        std::string partial;
        std::optional<std::size_t> expected;
        bool thrown = false;
        bool eof = false;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, "abc");
        peer.shutdown_send();
        result out;
        try {
            (void)co_await s.reader.readexactly(5);
        } catch (const incomplete_read_error& e) {
            out.thrown = true;
            out.partial = e.partial();
            out.expected = e.expected();
        }
        out.eof = s.reader.at_eof();
        co_return out;
    }());
    EXPECT_TRUE(r.thrown);
    EXPECT_EQ(r.partial, "abc");
    EXPECT_EQ(r.expected, std::optional<std::size_t>(5));
    EXPECT_TRUE(r.eof);
}

TEST(StreamReader, ReadlineReturnsOneLineAtATimeThenThePartialLastLine) {
    auto got = run_virtual([]() -> task<std::vector<std::string>> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, "a\nbb\nccc");
        peer.shutdown_send();
        std::vector<std::string> out;
        for (int i = 0; i < 4; ++i)
            out.push_back(co_await s.reader.readline());
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"a\n", "bb\n", "ccc", ""}));
}

TEST(StreamReader, ReadlineAssemblesALineThatArrivesInPieces) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        auto drip = [](corio::net::tcp_stream& p) -> task<void> {
            static constexpr const char* pieces[] = {"he", "llo ", "wor", "ld\nrest"};
            for (const char* piece : pieces) {
                co_await corio::sleep(milliseconds(2));
                co_await send_text(p, piece);
            }
        };
        auto sender = corio::create_task(drip(peer));
        std::string line = co_await s.reader.readline();
        co_await sender;
        co_return line + "|" + std::to_string(s.reader.buffered());
    }());
    EXPECT_EQ(got, "hello world\n|4");
}

TEST(StreamReader, ReadlineOverTheLimitDropsTheLineAsAsyncioDoes) {
    struct result {
        bool thrown = false;
        std::size_t consumed = 0;
        std::string next;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer(with_limit(8));
        co_await send_text(peer, "0123456789abcdef\nnext\n");
        co_await settle();
        result out;
        try {
            (void)co_await s.reader.readline();
        } catch (const limit_overrun_error& e) {
            out.thrown = true;
            out.consumed = e.consumed();
        }
        out.next = co_await s.reader.readline();
        co_return out;
    }());
    EXPECT_TRUE(r.thrown);
    EXPECT_EQ(r.consumed, 16u);
    EXPECT_EQ(r.next, "next\n");
}

TEST(StreamReader, ReaduntilOverTheLimitLeavesTheDataInTheBuffer) {
    struct result {
        bool thrown = false;
        std::size_t buffered = 0;
        std::string rest;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer(with_limit(8));
        co_await send_text(peer, "0123456789abcdef|x|");
        co_await settle();
        result out;
        try {
            (void)co_await s.reader.readuntil("|");
        } catch (const limit_overrun_error&) {
            out.thrown = true;
        }
        out.buffered = s.reader.buffered();
        out.rest = co_await s.reader.read(100);
        co_return out;
    }());
    EXPECT_TRUE(r.thrown);
    EXPECT_EQ(r.buffered, 19u);
    EXPECT_EQ(r.rest, "0123456789abcdef|x|");
}

TEST(StreamReader, ReaduntilGivesUpOnceTheLimitIsPassedWithoutASeparator) {
    struct result {
        bool thrown = false;
        std::size_t consumed = 0;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer(with_limit(16));
        auto drip = [](corio::net::tcp_stream& p) -> task<void> {
            for (int i = 0; i < 10; ++i) {
                co_await corio::sleep(milliseconds(2));
                co_await send_text(p, "xxxx");
            }
        };
        auto sender = corio::create_task(drip(peer));
        result out;
        try {
            (void)co_await s.reader.readuntil("\r\n");
        } catch (const limit_overrun_error& e) {
            out.thrown = true;
            out.consumed = e.consumed();
        }
        co_await sender;
        co_return out;
    }());
    EXPECT_TRUE(r.thrown);
    EXPECT_GT(r.consumed, 16u);
}

TEST(StreamReader, ReaduntilWithSeveralSeparatorsReturnsTheShortestChunk) {
    auto got = run_virtual([]() -> task<std::vector<std::string>> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, "aXYZb\r\nc\n");
        co_await settle();
        std::vector<std::string> out;
        out.push_back(co_await s.reader.readuntil("XYZ", "Y"));
        out.push_back(co_await s.reader.readuntil("\n", "\r\n"));
        out.push_back(co_await s.reader.readuntil("\r\n", "\n"));
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"aXY", "Zb\r\n", "c\n"}));
}

TEST(StreamReader, ReaduntilAtTheEndOfTheStreamThrowsWithEverythingBuffered) {
    struct result {
        bool thrown = false;
        std::string partial;
        bool has_expected = true;
        std::size_t buffered = 1;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, "no separator");
        peer.shutdown_send();
        result out;
        try {
            (void)co_await s.reader.readuntil("\n\n");
        } catch (const incomplete_read_error& e) {
            out.thrown = true;
            out.partial = e.partial();
            out.has_expected = e.expected().has_value();
        }
        out.buffered = s.reader.buffered();
        co_return out;
    }());
    EXPECT_TRUE(r.thrown);
    EXPECT_EQ(r.partial, "no separator");
    EXPECT_FALSE(r.has_expected);
    EXPECT_EQ(r.buffered, 0u);
}

TEST(StreamReader, ReaduntilRejectsAnEmptySeparator) {
    auto thrown = run_virtual([]() -> task<int> {
        auto [s, peer] = co_await make_streams_and_peer();
        int n = 0;
        try {
            (void)co_await s.reader.readuntil("");
        } catch (const std::invalid_argument&) {
            ++n;
        }
        try {
            (void)co_await s.reader.readuntil("x", "");
        } catch (const std::invalid_argument&) {
            ++n;
        }
        co_return n;
    }());
    EXPECT_EQ(thrown, 2);
}

TEST(StreamReader, NextLineIteratesOverTheLinesUntilTheEnd) {
    auto got = run_virtual([]() -> task<std::vector<std::string>> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, "one\ntwo\nthree");
        peer.shutdown_send();
        std::vector<std::string> out;
        while (auto line = co_await s.reader.next_line())
            out.push_back(*line);
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"one\n", "two\n", "three"}));
}

TEST(StreamReader, ASecondReadWhileOneWaitsIsALogicError) {
    auto thrown = run_virtual([]() -> task<bool> {
        auto [s, peer] = co_await make_streams_and_peer();
        auto waiting = corio::create_task([](stream_reader r) -> task<std::string> {
            co_return co_await r.readline();
        }(s.reader));
        co_await settle();
        bool logic = false;
        try {
            (void)co_await s.reader.read(1);
        } catch (const std::logic_error&) {
            logic = true;
        }
        co_await send_text(peer, "line\n");
        EXPECT_EQ(co_await waiting, "line\n");
        co_return logic;
    }());
    EXPECT_TRUE(thrown);
}

TEST(StreamReader, ReadSomeReadsIntoTheCallersBuffer) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer();
        auto later = [](corio::net::tcp_stream& p) -> task<void> {
            co_await corio::sleep(milliseconds(3));
            co_await send_text(p, "zero copy");
        };
        auto sender = corio::create_task(later(peer));
        std::array<std::byte, 64> buf{};
        const std::size_t n = co_await s.reader.read_some(buf);
        co_await sender;
        co_return corio::test::text_of(std::span(buf).first(n));
    }());
    EXPECT_EQ(got, "zero copy");
}

TEST(StreamReader, WaitReadableAndTryReadServeSeveralConnectionsFromOneBuffer) {
    auto got = run_virtual([]() -> task<std::string> {
        auto a = co_await make_streams_and_peer();
        auto b = co_await make_streams_and_peer();
        static std::array<std::byte, 16> shared; // one buffer for both connections
        auto echo_once = [](stream_reader r) -> task<std::string> {
            for (;;) {
                co_await r.wait_readable();
                const std::optional<std::size_t> n = r.try_read(shared);
                if (n)
                    co_return corio::test::text_of(std::span(shared).first(*n));
            }
        };
        auto ta = corio::create_task(echo_once(a.s.reader));
        auto tb = corio::create_task(echo_once(b.s.reader));
        co_await settle();
        co_await send_text(a.peer, "from a");
        co_await send_text(b.peer, "from b");
        std::string ra = co_await ta;
        std::string rb = co_await tb;
        co_return ra + "," + rb;
    }());
    EXPECT_EQ(got, "from a,from b");
}

TEST(StreamReader, TryReadReturnsNulloptWhenNothingHasArrived) {
    auto got = run_virtual([]() -> task<bool> {
        auto [s, peer] = co_await make_streams_and_peer();
        std::array<std::byte, 8> buf;
        co_return !s.reader.try_read(buf).has_value();
    }());
    EXPECT_TRUE(got);
}

TEST(StreamReader, AResetSurfacesAsSystemErrorOnThisReadAndEveryLaterOne) {
    struct result {
        int first = 0;
        int second = 0;
        bool exception_set = false;
    };
    auto r = run_virtual([]() -> task<result> {
        auto [s, peer] = co_await make_streams_and_peer();
        co_await send_text(peer, "unread");
        co_await settle();
        peer.abort(); // a reset
        co_await settle();
        result out;
        try {
            (void)co_await s.reader.read(100);
            // The bytes that came before the reset may be read first.
            (void)co_await s.reader.read(100);
        } catch (const std::system_error& e) {
            out.first = e.code().value();
        }
        try {
            (void)co_await s.reader.readline();
        } catch (const std::system_error& e) {
            out.second = e.code().value();
        }
        out.exception_set = s.reader.exception() != nullptr;
        co_return out;
    }());
    EXPECT_EQ(r.first, ECONNRESET);
    EXPECT_EQ(r.second, ECONNRESET);
    EXPECT_TRUE(r.exception_set);
}

TEST(StreamReader, LargeTransfersArriveIntactThroughEveryKindOfRead) {
    std::string sent;
    for (int i = 0; i < 20000; ++i)
        sent += "line " + std::to_string(i) + "\n";
    auto got = run_virtual([](std::string text) -> task<std::string> {
        auto [s, peer] = co_await make_streams_and_peer(with_limit(1024));
        auto send = [](corio::net::tcp_stream& p, std::string t) -> task<void> {
            co_await send_text(p, std::move(t));
            p.shutdown_send();
        };
        auto sender = corio::create_task(send(peer, text));
        std::string r;
        for (int i = 0;; ++i) {
            std::string piece;
            switch (i % 4) {
            case 0:
                piece = co_await s.reader.readline();
                break;
            case 1:
                piece = co_await s.reader.read(7);
                break;
            case 2:
                try {
                    piece = co_await s.reader.readexactly(13);
                } catch (const incomplete_read_error& e) {
                    piece = e.partial();
                }
                break;
            default:
                try {
                    piece = co_await s.reader.readuntil("5\n", "0\n");
                } catch (const incomplete_read_error& e) {
                    piece = e.partial();
                }
            }
            if (piece.empty() && s.reader.at_eof())
                break;
            r += piece;
        }
        co_await sender;
        co_return r;
    }(sent));
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_TRUE(got == sent);
}

TEST(StreamReader, EveryFdIsClosedOnceTheStreamsAreGone) {
    const std::size_t before = corio::test::open_fd_count();
    run_virtual([]() -> task<void> {
        for (int i = 0; i < 5; ++i) {
            auto [s, peer] = co_await make_streams_and_peer();
            co_await send_text(peer, "x\n");
            (void)co_await s.reader.readline();
        }
    }());
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

} // namespace

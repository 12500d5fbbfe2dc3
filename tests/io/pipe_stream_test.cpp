// Streams over pipes: connect_read_pipe / connect_write_pipe, stdin and stdout as streams,
// EPIPE instead of SIGPIPE, backpressure, cancellation, and the fds they take and close.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/io/pipes.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>

namespace {

using corio::cancelled_error;
using corio::connect_read_pipe;
using corio::connect_write_pipe;
using corio::stream_reader;
using corio::stream_writer;
using corio::task;
using namespace std::chrono_literals;

template <typename T>
T run_loop(task<T> t) {
    corio::event_loop loop;
    return loop.run_until_complete(std::move(t));
}

struct raw_pipe {
    int r = -1;
    int w = -1;
    raw_pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) == 0) {
            r = fds[0];
            w = fds[1];
        }
    }
};

void write_all(int fd, const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
        ASSERT_GT(n, 0);
        done += static_cast<std::size_t>(n);
    }
}

template <typename H>
task<bool> cancel_and_check(H& h) {
    co_await corio::sleep(10ms);
    EXPECT_FALSE(h.done()) << "the operation did not wait";
    h.cancel();
    try {
        co_await h;
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

class PipeStream : public ::testing::Test {
  protected:
    void SetUp() override { m_fds = corio::test::open_fd_count(); }
    void TearDown() override { EXPECT_EQ(corio::test::open_fd_count(), m_fds); }

  private:
    std::size_t m_fds = 0;
};

TEST_F(PipeStream, AReadPipeReadsLinesUntilTheWriterCloses) {
    raw_pipe p;
    ASSERT_GE(p.r, 0);
    auto lines = run_loop([](raw_pipe p) -> task<std::vector<std::string>> {
        stream_reader in = connect_read_pipe(p.r);
        EXPECT_NE(::fcntl(p.r, F_GETFL) & O_NONBLOCK, 0);
        EXPECT_NE(::fcntl(p.r, F_GETFD) & FD_CLOEXEC, 0);
        auto writer = corio::create_task([](int w) -> task<void> {
            write_all(w, "one\ntw");
            co_await corio::sleep(5ms); // the reader waits for the rest of the line
            write_all(w, "o\nlast");
            ::close(w);
        }(p.w));
        std::vector<std::string> got;
        while (auto line = co_await in.next_line())
            got.push_back(*line);
        co_await writer;
        EXPECT_TRUE(in.at_eof());
        co_return got;
    }(p));
    EXPECT_EQ(lines, (std::vector<std::string>{"one\n", "two\n", "last"}));
}

TEST_F(PipeStream, AWritePipeDeliversAndCloseIsTheEndOfTheStream) {
    raw_pipe p;
    auto got = run_loop([](raw_pipe p) -> task<std::string> {
        stream_writer out = connect_write_pipe(p.w);
        EXPECT_TRUE(out.can_write_eof());
        EXPECT_EQ(out.socket(), nullptr);
        co_await out.write("hello ");
        co_await out.write("pipe\n");
        out.close();
        co_await out.wait_closed();
        std::string all;
        char buf[64];
        ssize_t n;
        while ((n = ::read(p.r, buf, sizeof buf)) > 0)
            all.append(buf, static_cast<std::size_t>(n));
        ::close(p.r);
        co_return all;
    }(p));
    EXPECT_EQ(got, "hello pipe\n");
}

TEST_F(PipeStream, TheWritersBackpressureWaitsForTheReaderAndNothingIsLost) {
    raw_pipe p;
    const std::size_t size = 4u << 20;
    auto got = run_loop([](raw_pipe p, std::size_t size) -> task<std::size_t> {
        stream_writer out = connect_write_pipe(p.w);
        stream_reader in = connect_read_pipe(p.r);
        auto reader = corio::create_task([](stream_reader in) -> task<std::size_t> {
            std::string all = co_await in.read();
            std::size_t bad = 0;
            for (std::size_t i = 0; i < all.size(); ++i)
                bad += all[i] != static_cast<char>('a' + i % 26);
            EXPECT_EQ(bad, 0u);
            co_return all.size();
        }(in));
        std::string chunk(1 << 16, '\0');
        for (std::size_t off = 0; off < size; off += chunk.size()) {
            for (std::size_t i = 0; i < chunk.size(); ++i)
                chunk[i] = static_cast<char>('a' + (off + i) % 26);
            co_await out.write(chunk);
            EXPECT_LE(out.write_buffer_size(), 64u * 1024 + chunk.size());
        }
        out.close();
        co_await out.wait_closed();
        co_return co_await reader;
    }(p, size));
    EXPECT_EQ(got, size);
}

TEST_F(PipeStream, AWriteWhoseReaderIsGoneFailsWithEpipeNotSigpipe) {
    raw_pipe p;
    ::close(p.r);
    run_loop([](int w) -> task<void> {
        stream_writer out = connect_write_pipe(w);
        struct sigaction sa {};
        ::sigaction(SIGPIPE, nullptr, &sa);
        EXPECT_EQ(sa.sa_handler, SIG_IGN) << "SIGPIPE would kill the process";
        try {
            co_await out.write("nobody reads this\n");
            ADD_FAILURE() << "the write succeeded";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::broken_pipe) << e.what();
        }
        // The stream failed: every later write says so.
        EXPECT_THROW(out.write_nowait("again"), std::system_error);
    }(p.w));
}

TEST_F(PipeStream, AWriteFailingWhileBufferedReportsEpipeToDrain) {
    raw_pipe p;
    run_loop([](raw_pipe p) -> task<void> {
        stream_writer out = connect_write_pipe(p.w);
        out.write_nowait(std::string(1 << 20, 'x')); // more than the pipe holds: buffered
        EXPECT_GT(out.write_buffer_size(), 0u);
        ::close(p.r);
        try {
            co_await out.drain();
            ADD_FAILURE() << "drain succeeded";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::broken_pipe);
        }
    }(p));
}

TEST_F(PipeStream, ACancelledReadLosesNothing) {
    raw_pipe p;
    auto got = run_loop([](raw_pipe p) -> task<std::string> {
        stream_reader in = connect_read_pipe(p.r);
        write_all(p.w, "abc");
        auto r = corio::create_task([](stream_reader in) -> task<std::string> {
            co_return co_await in.readexactly(6);
        }(in));
        const bool cancelled = co_await cancel_and_check(r);
        EXPECT_TRUE(cancelled);
        write_all(p.w, "def");
        ::close(p.w);
        co_return co_await in.read();
    }(p));
    EXPECT_EQ(got, "abcdef");
}

TEST_F(PipeStream, ACancelledDrainKeepsTheBytesAndTheStream) {
    raw_pipe p;
    auto got = run_loop([](raw_pipe p) -> task<std::size_t> {
        stream_writer out = connect_write_pipe(p.w);
        stream_reader in = connect_read_pipe(p.r);
        const std::size_t size = 1u << 20;
        auto d = corio::create_task([](stream_writer out, std::size_t size) -> task<void> {
            const std::string data(size, 'y');
            co_await out.write(data);
        }(out, size));
        const bool cancelled = co_await cancel_and_check(d);
        EXPECT_TRUE(cancelled);
        out.close();
        std::string all = co_await in.read();
        co_return all.size();
    }(p));
    EXPECT_EQ(got, 1u << 20);
}

TEST_F(PipeStream, ARegularFileCanBeReadAsAPipe) {
    char path[] = "/tmp/corio-pipe-test-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    write_all(fd, "from a file\nsecond\n");
    ::lseek(fd, 0, SEEK_SET);
    auto got = run_loop([](int fd) -> task<std::string> {
        stream_reader in = connect_read_pipe(fd);
        co_return co_await in.read();
    }(fd));
    EXPECT_EQ(got, "from a file\nsecond\n");
}

TEST_F(PipeStream, StdinAndStdoutWorkAsStreams) {
    raw_pipe in_pipe, out_pipe;
    std::fflush(stdout);
    const int saved_in = ::dup(0);
    const int saved_out = ::dup(1);
    ASSERT_EQ(::dup2(in_pipe.r, 0), 0);
    ASSERT_EQ(::dup2(out_pipe.w, 1), 1);
    ::close(in_pipe.r);
    ::close(out_pipe.w);
    write_all(in_pipe.w, "alpha\nbeta\n");
    ::close(in_pipe.w);
    run_loop([]() -> task<void> {
        // A line-based tool: upper-cases every line.
        stream_reader in = corio::connect_stdin();
        stream_writer out = corio::connect_stdout();
        while (auto line = co_await in.next_line()) {
            for (char& c : *line)
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            co_await out.write(*line);
        }
        out.close();
        co_await out.wait_closed();
    }());
    ::dup2(saved_in, 0);
    ::dup2(saved_out, 1);
    ::close(saved_in);
    ::close(saved_out);
    std::string all;
    char buf[64];
    ssize_t n;
    while ((n = ::read(out_pipe.r, buf, sizeof buf)) > 0)
        all.append(buf, static_cast<std::size_t>(n));
    ::close(out_pipe.r);
    EXPECT_EQ(all, "ALPHA\nBETA\n");
}

TEST_F(PipeStream, ConnectingOutsideALoopIsRefusedAndClosesNothingItDidNotTake) {
    EXPECT_THROW((void)connect_read_pipe(0), std::logic_error);
    EXPECT_NE(::fcntl(0, F_GETFD), -1) << "fd 0 was closed";
}

TEST_F(PipeStream, AnInvalidFdIsRefused) {
    run_loop([]() -> task<void> {
        EXPECT_THROW((void)connect_read_pipe(-1), std::invalid_argument);
        co_return;
    }());
}

TEST_F(PipeStream, DroppingTheStreamClosesItsFd) {
    raw_pipe p;
    run_loop([](raw_pipe p) -> task<void> {
        { stream_reader in = connect_read_pipe(p.r); }
        EXPECT_EQ(::fcntl(p.r, F_GETFD), -1);
        ::close(p.w);
        co_return;
    }(p));
}

} // namespace

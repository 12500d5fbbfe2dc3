// open_connection, open_unix_connection and make_streams, including streams over a transport
// that is not a socket (the seam TLS and pipes plug into).

#include "corio/core/create_task.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/io/server.hpp"
#include "corio/io/streams.hpp"
#include "corio/io/transport.hpp"
#include "corio/net/connect_error.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/runtime/event_loop.hpp"

#include "io/io_helpers.hpp"
#include "support/loop_helpers.hpp"
#include "sys/posix/unique_fd.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::open_connection;
using corio::stream_reader;
using corio::stream_writer;
using corio::streams;
using corio::task;
using corio::test::run_virtual;

task<void> echo_lines(stream_reader r, stream_writer w) {
    while (auto line = co_await r.next_line())
        co_await w.write(*line);
}

TEST(OpenConnection, ResolvesANameOnAWorkerThreadAndConnects) {
    auto got = run_virtual([]() -> task<std::string> {
        corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
        // "localhost" may resolve to ::1 first, where nobody listens: Happy Eyeballs moves on.
        streams c = co_await open_connection("localhost", srv.endpoints().at(0).port());
        co_await c.writer.write("by name\n");
        co_return co_await c.reader.readline();
    }());
    EXPECT_EQ(got, "by name\n");
}

TEST(OpenConnection, ReportsEveryFailedAttemptWhenNobodyListens) {
    auto what = run_virtual([]() -> task<std::string> {
        std::uint16_t port;
        {
            auto l = corio::net::tcp_listener::bind(corio::test::loopback_v4());
            port = l.local_endpoint().port();
        } // closed: the port refuses connections now
        try {
            (void)co_await open_connection("127.0.0.1", port);
        } catch (const corio::net::connect_error& e) {
            co_return std::string(e.what());
        }
        co_return std::string();
    }());
    EXPECT_NE(what.find("refused"), std::string::npos) << what;
}

TEST(OpenConnection, TcpStreamsSendSmallWritesAtOnce) {
    auto flags = run_virtual([]() -> task<std::vector<int>> {
        std::vector<int> out;
        auto handler = [&out](stream_reader r, stream_writer w) -> task<void> {
            out.push_back(w.socket()->get_option<int>(IPPROTO_TCP, TCP_NODELAY));
            (void)co_await r.read();
        };
        corio::server srv = co_await corio::start_server(handler, "127.0.0.1", 0);
        streams c = co_await open_connection("127.0.0.1", srv.endpoints().at(0).port());
        out.push_back(c.writer.socket()->get_option<int>(IPPROTO_TCP, TCP_NODELAY));
        co_await corio::test::settle();
        c.writer.close();
        srv.close();
        co_await srv.wait_closed();
        co_return out;
    }());
    ASSERT_EQ(flags.size(), 2u);
    EXPECT_NE(flags[0], 0);
    EXPECT_NE(flags[1], 0);
}

TEST(OpenConnection, AUnixConnectionToAMissingPathFailsWithTheErrno) {
    auto code = run_virtual([]() -> task<int> {
        try {
            (void)co_await corio::open_unix_connection(
                corio::net::unix_endpoint("/nonexistent/corio.sock"));
        } catch (const std::system_error& e) {
            co_return e.code().value();
        }
        co_return 0;
    }());
    EXPECT_EQ(code, ENOENT);
}

struct pipe_ends {
    corio::sys::unique_fd read;
    corio::sys::unique_fd write;
};

pipe_ends make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    return {corio::sys::unique_fd(fds[0]), corio::sys::unique_fd(fds[1])};
}

/// A transport over two pipes (read from one, write to the other), driven through the loop's
/// add_reader/add_writer: what a subprocess's stdin/stdout transport looks like.
class pipe_transport final : public corio::transport {
  public:
    pipe_transport(corio::event_loop& loop, corio::sys::unique_fd in, corio::sys::unique_fd out)
        : m_loop(loop), m_in(std::move(in)), m_out(std::move(out)) {}
    ~pipe_transport() override { close(); }

    std::int64_t try_read(std::span<std::byte> buf) override {
        const ssize_t n = ::read(m_in.get(), buf.data(), buf.size());
        if (n >= 0)
            return n;
        if (errno == EAGAIN)
            return would_block;
        throw std::system_error(errno, std::generic_category(), "read");
    }
    std::int64_t try_write(std::span<const std::byte> buf) override {
        const ssize_t n = ::write(m_out.get(), buf.data(), buf.size());
        if (n >= 0)
            return n;
        if (errno == EAGAIN)
            return would_block;
        throw std::system_error(errno, std::generic_category(), "write");
    }
    void wait_readable() override {
        ++read_waits;
        m_loop.add_reader(m_in.get(), [this] {
            cancel_wait_readable();
            m_events->on_readable();
        });
    }
    void wait_writable() override {
        m_loop.add_writer(m_out.get(), [this] {
            cancel_wait_writable();
            m_events->on_writable();
        });
    }
    void cancel_wait_readable() noexcept override {
        if (m_in)
            m_loop.remove_reader(m_in.get());
    }
    void cancel_wait_writable() noexcept override {
        if (m_out)
            m_loop.remove_writer(m_out.get());
    }
    void close() noexcept override {
        cancel_wait_readable();
        cancel_wait_writable();
        m_in.reset();
        m_out.reset();
    }

    int read_waits = 0;

  private:
    corio::event_loop& m_loop;
    corio::sys::unique_fd m_in;
    corio::sys::unique_fd m_out;
};

TEST(OpenConnection, StreamsWorkOverACustomTransport) {
    struct result {
        std::vector<std::string> echoes;
        bool can_write_eof = true;
        bool no_socket = false;
        int read_waits = 0;
    };
    const std::size_t fds_before = corio::test::open_fd_count();
    auto r = run_virtual([]() -> task<result> {
        corio::event_loop& loop = *corio::event_loop::current();
        pipe_ends ab = make_pipe(); // a -> b
        pipe_ends ba = make_pipe(); // b -> a
        auto ta = std::make_unique<pipe_transport>(loop, std::move(ba.read), std::move(ab.write));
        auto tb = std::make_unique<pipe_transport>(loop, std::move(ab.read), std::move(ba.write));
        pipe_transport* raw_a = ta.get();
        streams a = corio::make_streams(std::move(ta));
        streams b = corio::make_streams(std::move(tb));
        auto echo = corio::create_task(echo_lines(b.reader, b.writer));
        result out;
        for (int i = 0; i < 3; ++i) {
            co_await a.writer.write("pipe line " + std::to_string(i) + "\n");
            out.echoes.push_back(co_await a.reader.readline());
        }
        out.can_write_eof = a.writer.can_write_eof();
        out.no_socket = a.writer.socket() == nullptr;
        out.read_waits = raw_a->read_waits;
        a.writer.close(); // b reads the end of the stream, and the echo task ends
        co_await echo;
        co_return out;
    }());
    EXPECT_EQ(r.echoes,
              (std::vector<std::string>{"pipe line 0\n", "pipe line 1\n", "pipe line 2\n"}));
    EXPECT_FALSE(r.can_write_eof);
    EXPECT_TRUE(r.no_socket);
    EXPECT_GT(r.read_waits, 0);
    EXPECT_EQ(corio::test::open_fd_count(), fds_before);
}

} // namespace

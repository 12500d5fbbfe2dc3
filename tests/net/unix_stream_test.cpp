#include "corio/core/create_task.hpp"
#include "corio/net/unix_listener.hpp"
#include "corio/net/unix_stream.hpp"
#include "corio/runtime/event_loop.hpp"

#include "net/net_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <string>
#include <system_error>

namespace {

using corio::task;
using corio::net::unix_endpoint;
using corio::net::unix_listener;
using corio::net::unix_stream;
using corio::test::bytes_of;
using corio::test::open_fd_count;
using corio::test::run_virtual;
using corio::test::text_of;

std::string temp_socket_path(const char* name) {
    return "/tmp/corio_test_" + std::to_string(::getpid()) + "_" + name + ".sock";
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

task<std::string> recv_text(unix_stream& s) {
    std::array<std::byte, 256> buf;
    const std::size_t n = co_await s.recv(buf);
    co_return text_of(std::span(buf).first(n));
}

TEST(UnixStream, APairExchangesBytesAndSeesEndOfStream) {
    auto r = run_virtual([]() -> task<std::pair<std::string, std::string>> {
        auto [a, b] = unix_stream::pair();
        co_await a.send_all(bytes_of("over the pair"));
        a.shutdown_send();
        std::pair<std::string, std::string> out;
        out.first = co_await recv_text(b);
        out.second = co_await recv_text(b); // end of stream
        co_return out;
    }());
    EXPECT_EQ(r.first, "over the pair");
    EXPECT_EQ(r.second, "");
}

TEST(UnixStream, ConnectsToAListenerOnAPathAndRemovesTheFileOnClose) {
    const std::string path = temp_socket_path("path");
    ::unlink(path.c_str());
    auto r = run_virtual([](std::string path) -> task<std::string> {
        auto l = unix_listener::bind(unix_endpoint(path));
        EXPECT_EQ(l.local_endpoint().name(), path);
        auto c = corio::create_task(unix_stream::connect(unix_endpoint(path)));
        unix_stream s = co_await l.accept();
        unix_stream client = co_await std::move(c);
        EXPECT_EQ(client.peer_endpoint().name(), path);
        EXPECT_TRUE(s.peer_endpoint().is_unnamed());
        const auto cred = s.peer_credentials();
        EXPECT_EQ(cred.pid, ::getpid());
        EXPECT_EQ(cred.uid, ::getuid());
        co_await client.send_all(bytes_of("by path"));
        co_return co_await recv_text(s);
    }(path));
    EXPECT_EQ(r, "by path");
    EXPECT_FALSE(exists(path));
}

TEST(UnixStream, AnAbstractNameNeedsNoFile) {
    const std::string name = "@corio_test_" + std::to_string(::getpid());
    auto r = run_virtual([](std::string name) -> task<std::string> {
        auto l = unix_listener::bind(unix_endpoint(name));
        EXPECT_TRUE(l.local_endpoint().is_abstract());
        auto c = corio::create_task(unix_stream::connect(unix_endpoint(name)));
        unix_stream s = co_await l.accept();
        unix_stream client = co_await std::move(c);
        co_await s.send_all(bytes_of("abstract"));
        co_return co_await recv_text(client);
    }(name));
    EXPECT_EQ(r, "abstract");
}

TEST(UnixStream, AStaleSocketFileBlocksBindUnlessTheCallerAsksToRemoveIt) {
    const std::string path = temp_socket_path("stale");
    ::unlink(path.c_str());
    {
        auto l = unix_listener::bind(unix_endpoint(path), {.unlink_on_close = false});
        (void)l.release(); // leaves the file, like a crashed server
    }
    ASSERT_TRUE(exists(path));
    try {
        (void)unix_listener::bind(unix_endpoint(path));
        ADD_FAILURE() << "bind succeeded over a stale file";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
        EXPECT_NE(std::string(e.what()).find("bind to " + path), std::string::npos) << e.what();
    }
    auto l = unix_listener::bind(unix_endpoint(path), {.unlink_existing = true});
    EXPECT_TRUE(l.is_open());
    l.close();
    EXPECT_FALSE(exists(path));
}

TEST(UnixStream, ConnectingToAMissingPathNamesIt) {
    const std::string path = temp_socket_path("missing");
    auto r = run_virtual([](std::string path) -> task<std::pair<std::error_code, std::string>> {
        try {
            (void)co_await unix_stream::connect(unix_endpoint(path));
        } catch (const std::system_error& e) {
            co_return std::pair(e.code(), std::string(e.what()));
        }
        co_return std::pair(std::error_code(), std::string());
    }(path));
    EXPECT_EQ(r.first, std::errc::no_such_file_or_directory);
    EXPECT_NE(r.second.find("connect to " + path), std::string::npos) << r.second;
}

TEST(UnixStream, AFileDescriptorPassesWithSendmsgAndRecvmsg) {
    auto r = run_virtual([]() -> task<std::string> {
        auto [a, b] = unix_stream::pair();
        int pipe_fds[2];
        EXPECT_EQ(::pipe(pipe_fds), 0);
        // Send the pipe's read end with one byte of data.
        char one = '!';
        iovec iov{&one, 1};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &pipe_fds[0], sizeof(int));
        const std::size_t sent = co_await a.sock().sendmsg(msg);
        EXPECT_EQ(sent, 1u);
        ::close(pipe_fds[0]);

        char got = 0;
        iovec riov{&got, 1};
        alignas(cmsghdr) char rcontrol[CMSG_SPACE(sizeof(int))] = {};
        msghdr rmsg{};
        rmsg.msg_iov = &riov;
        rmsg.msg_iovlen = 1;
        rmsg.msg_control = rcontrol;
        rmsg.msg_controllen = sizeof rcontrol;
        const std::size_t received = co_await b.sock().recvmsg(rmsg, MSG_CMSG_CLOEXEC);
        EXPECT_EQ(received, 1u);
        int passed = -1;
        std::memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&rmsg)), sizeof(int));
        EXPECT_EQ(::write(pipe_fds[1], "via fd", 6), 6);
        char buf[16] = {};
        const ssize_t n = ::read(passed, buf, sizeof buf);
        ::close(passed);
        ::close(pipe_fds[1]);
        co_return std::string(1, got) + std::string(buf, n > 0 ? std::size_t(n) : 0);
    }());
    EXPECT_EQ(r, "!via fd");
}

TEST(UnixStream, NoDescriptorLeaks) {
    const std::size_t before = open_fd_count();
    run_virtual([]() -> task<void> {
        for (int i = 0; i < 10; ++i) {
            auto [a, b] = unix_stream::pair();
            co_await a.send_all(bytes_of("x"));
            (void)co_await recv_text(b);
        }
    }());
    EXPECT_EQ(open_fd_count(), before);
}

} // namespace

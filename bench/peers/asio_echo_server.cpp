// The echo server written with Boost.Asio C++20 coroutines, a peer of
// ./run.sh bench-net.
//
// Usage: asio_echo_server PORT      (asio_uring_echo_server PORT: same source,
//                                    built with BOOST_ASIO_HAS_IO_URING and
//                                    BOOST_ASIO_DISABLE_EPOLL)
//
// Single-threaded io_context (concurrency hint 1), listens on 127.0.0.1:PORT.
// One coroutine per connection, started with co_spawn: async_read_some into a
// buffer held in the coroutine frame, async_write of what came back. This is
// Asio's cpp20 echo example, with a 64 KiB buffer instead of 1 KiB so that a
// 16 KiB message takes one read like in the other peers. SIGTERM / SIGINT stop
// the io_context and exit with 0.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

constexpr std::size_t buffer_size = 64 * 1024;

awaitable<void> echo(tcp::socket socket) {
    try {
        char data[buffer_size];
        for (;;) {
            std::size_t n = co_await socket.async_read_some(asio::buffer(data), use_awaitable);
            co_await asio::async_write(socket, asio::buffer(data, n), use_awaitable);
        }
    } catch (const std::exception&) {
        // EOF or a reset: the connection is over.
    }
}

awaitable<void> listen(tcp::acceptor& acceptor) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    try {
        asio::io_context context(1);
        tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"),
                               static_cast<unsigned short>(std::atoi(argv[1])));
        tcp::acceptor acceptor(context);
        acceptor.open(endpoint.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(endpoint);
        acceptor.listen(tcp::socket::max_listen_connections);

        asio::signal_set signals(context, SIGINT, SIGTERM);
        signals.async_wait([&](auto, auto) { context.stop(); });

        asio::co_spawn(context, listen(acceptor), asio::detached);
        context.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "asio_echo_server: %s\n", e.what());
        return 1;
    }
    return 0;
}

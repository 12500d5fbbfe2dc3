// corio's HTTP server for ./run.sh bench-http: `corio_http_server PORT [--threads N]`.
//
// Listens on 127.0.0.1:PORT and answers GET / with "Hello, World!" (Content-Type text/plain;
// charset=utf-8, Content-Length 13, Date, keep-alive), like the nginx and Boost.Beast peers; exits
// with 0 on SIGTERM or SIGINT. Single-threaded unless --threads N. It is an ordinary
// http::start_server program: a router with one route.

#include "corio/corio.hpp"
#include "corio/http/server.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace {

corio::task<corio::http::response> hello(corio::http::request&) {
    co_return corio::http::response::text(200, "Hello, World!");
}

corio::task<int> serve(std::uint16_t port, std::size_t threads, int signal_fd) {
    namespace http = corio::http;
    http::router routes;
    routes.get("/", hello);
    http::server_options options;
    options.threads = threads;
    // "Server: corio", as nginx sends "Server: nginx/1.22.1": the same work per response.
    http::server srv = co_await http::start_server(std::move(routes), "127.0.0.1", port, options);

    // SIGTERM and SIGINT arrive through a signalfd (blocked in main) and stop the server.
    corio::event stop;
    corio::event_loop& loop = *corio::event_loop::current();
    loop.add_reader(signal_fd, [&stop, signal_fd] {
        signalfd_siginfo info;
        while (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
            stop.set();
    });
    co_await stop.wait();
    loop.remove_reader(signal_fd);
    co_await srv.shutdown(std::chrono::milliseconds(0));
    co_return 0;
}

} // namespace

int main(int argc, char** argv) {
    int port = -1;
    long threads = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = std::atol(argv[++i]);
        else if (port < 0 && argv[i][0] != '-')
            port = std::atoi(argv[i]);
        else
            port = -2;
    }
    if (port < 0 || port > 65535 || threads < 1) {
        std::fprintf(stderr, "usage: %s PORT [--threads N]\n", argv[0]);
        return 2;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    const int signal_fd = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd < 0) {
        std::perror("signalfd");
        return 1;
    }
    try {
        const int rc = corio::run(
            serve(static_cast<std::uint16_t>(port), static_cast<std::size_t>(threads), signal_fd));
        ::close(signal_fd);
        return rc;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corio_http_server: %s\n", e.what());
        return 1;
    }
}

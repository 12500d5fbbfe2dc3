// corio's HTTP server for ./run.sh bench-http: `corio_http_server PORT [--threads N]`.
//
// Listens on 127.0.0.1:PORT and answers GET / with "Hello, World!" (Content-Type text/plain;
// charset=utf-8, Content-Length 13, Date, keep-alive), like the nginx and Boost.Beast peers; exits
// with 0 on SIGTERM or SIGINT. Single-threaded unless --threads N. It is an ordinary
// http::start_server program: a router with one route.

#include "corio/corio.hpp"
#include "corio/http/server.hpp"

#include "stop_signals.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace {

corio::task<corio::http::response> hello(corio::http::request&) {
    co_return corio::http::response::text(200, "Hello, World!");
}

corio::task<int> serve(std::uint16_t port, std::size_t threads,
                       const corio_bench::stop_signals& stop) {
    namespace http = corio::http;
    http::router routes;
    routes.get("/", hello);
    http::server_options options;
    options.threads = threads;
    // "Server: corio", as nginx sends "Server: nginx/1.22.1": the same work per response.
    http::server srv = co_await http::start_server(std::move(routes), "127.0.0.1", port, options);

    co_await stop.wait(); // SIGTERM or SIGINT
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
    try {
        const corio_bench::stop_signals stop;
        return corio::run(
            serve(static_cast<std::uint16_t>(port), static_cast<std::size_t>(threads), stop));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corio_http_server: %s\n", e.what());
        return 1;
    }
}

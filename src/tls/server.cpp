#include "corio/tls/server.hpp"

#include "corio/core/cancelled_error.hpp"
#include "corio/tls/start_tls.hpp"

#include <memory>
#include <stdexcept>
#include <utility>

namespace corio::tls {

namespace {

/// What every connection of a TLS server shares.
struct server_config {
    connection_handler handler;
    context ctx;
    std::chrono::milliseconds handshake_timeout;
    std::function<void(std::exception_ptr)> on_handshake_error;
};

/// The handler start_server runs: the handshake, then the user's handler.
task<void> serve_one(std::shared_ptr<const server_config> cfg, stream_reader r, stream_writer w) {
    streams s{std::move(r), std::move(w)};
    std::exception_ptr failure;
    try {
        start_tls_options o;
        o.handshake_timeout = cfg->handshake_timeout;
        task<streams> upgrading = start_tls(std::move(s), cfg->ctx, std::move(o));
        s = co_await upgrading;
    } catch (const cancelled_error&) {
        throw; // the server's loop is ending: not a handshake failure
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        // That connection only (start_tls closed it); the server goes on.
        if (cfg->on_handshake_error) {
            try {
                cfg->on_handshake_error(failure);
            } catch (...) {
            }
        }
        co_return;
    }
    task<void> h = cfg->handler(std::move(s.reader), std::move(s.writer));
    co_await h;
}

std::shared_ptr<const server_config> make_config(connection_handler handler, context ctx,
                                                 server_options& options) {
    if (!handler)
        throw std::invalid_argument("corio::tls::start_server: empty handler");
    if (!ctx || !ctx.is_server())
        throw std::invalid_argument("corio::tls::start_server: needs a server context");
    return std::make_shared<const server_config>(
        server_config{std::move(handler), std::move(ctx), options.handshake_timeout,
                      std::move(options.on_handshake_error)});
}

connection_handler wrap(std::shared_ptr<const server_config> cfg) {
    return [cfg = std::move(cfg)](stream_reader r, stream_writer w) -> task<void> {
        return serve_one(cfg, std::move(r), std::move(w));
    };
}

} // namespace

task<server> start_server(connection_handler handler, std::string host, std::uint16_t port,
                          context ctx, server_options options) {
    connection_handler h = wrap(make_config(std::move(handler), std::move(ctx), options));
    task<server> starting =
        corio::start_server(std::move(h), std::move(host), port, options.server);
    co_return co_await starting;
}

task<server> start_unix_server(connection_handler handler, net::unix_endpoint path, context ctx,
                               server_options options) {
    connection_handler h = wrap(make_config(std::move(handler), std::move(ctx), options));
    task<server> starting = corio::start_unix_server(std::move(h), std::move(path), options.server);
    co_return co_await starting;
}

} // namespace corio::tls

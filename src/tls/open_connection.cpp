#include "corio/tls/open_connection.hpp"

#include "corio/tls/start_tls.hpp"

#include <stdexcept>
#include <utility>

namespace corio::tls {

task<streams> open_connection(std::string host, std::uint16_t port, context ctx,
                              client_options options) {
    if (!ctx || ctx.is_server())
        throw std::invalid_argument("corio::tls::open_connection: needs a client context");
    start_tls_options o;
    o.server_hostname = options.server_hostname ? std::move(options.server_hostname) : host;
    o.alpn = std::move(options.alpn);
    o.handshake_timeout = options.handshake_timeout;
    task<streams> connecting = corio::open_connection(std::move(host), port, options.connection);
    streams s = co_await connecting;
    task<streams> upgrading = start_tls(std::move(s), std::move(ctx), std::move(o));
    co_return co_await upgrading;
}

} // namespace corio::tls

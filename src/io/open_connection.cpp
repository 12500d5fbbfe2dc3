#include "corio/io/open_connection.hpp"

#include "corio/net/unix_stream.hpp"

#include <utility>

namespace corio {

task<streams> open_connection(std::string host, std::uint16_t port, connection_options options) {
    net::tcp_stream s =
        co_await net::open_tcp_connection(std::move(host), port, options.happy_eyeballs);
    co_return make_streams(std::move(s), options.streams);
}

task<streams> open_unix_connection(net::unix_endpoint path, stream_options options) {
    net::unix_stream s = co_await net::unix_stream::connect(std::move(path));
    co_return make_streams(std::move(s), options);
}

} // namespace corio

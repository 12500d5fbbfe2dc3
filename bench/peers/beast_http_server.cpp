// Boost.Beast HTTP peer for ./run.sh bench-http: `beast_http_server PORT`.
//
// Single-threaded (one io_context), asynchronous, keep-alive: answers every request with
// 200 "Hello, World!" (Content-Type text/plain; charset=utf-8, Content-Length 13, Date cached
// once per second), as corio_http_server and the nginx configuration of tools/bench_http.py do.
// Written the way Beast's own http_server_async example is (a session per connection with a
// flat_buffer, async_read / async_write). Exits on SIGTERM or SIGINT.

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// The Date header, reformatted when the second changes (as corio and nginx do).
const char* date_now() {
    static std::time_t last = -1;
    static char buf[64];
    const std::time_t now = std::time(nullptr);
    if (now != last) {
        last = now;
        std::tm tm{};
        gmtime_r(&now, &tm);
        std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    }
    return buf;
}

class session : public std::enable_shared_from_this<session> {
  public:
    explicit session(tcp::socket s) : m_stream(std::move(s)) {}
    void start() { read(); }

  private:
    void read() {
        m_req = {};
        http::async_read(
            m_stream, m_buffer, m_req,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }
    void on_read(beast::error_code ec) {
        if (ec) {
            close();
            return;
        }
        m_res = {};
        m_res.version(m_req.version());
        m_res.result(m_req.target() == "/" ? http::status::ok : http::status::not_found);
        m_res.set(http::field::date, date_now());
        m_res.set(http::field::content_type, "text/plain; charset=utf-8");
        m_res.keep_alive(m_req.keep_alive());
        m_res.body() = m_req.target() == "/" ? "Hello, World!" : "Not Found";
        m_res.prepare_payload();
        http::async_write(
            m_stream, m_res,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
    }
    void on_write(beast::error_code ec) {
        if (ec || !m_res.keep_alive()) {
            close();
            return;
        }
        read();
    }
    void close() {
        beast::error_code ignored;
        m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    beast::tcp_stream m_stream;
    beast::flat_buffer m_buffer;
    http::request<http::string_body> m_req;
    http::response<http::string_body> m_res;
};

void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket s) {
        if (!ec) {
            s.set_option(tcp::no_delay(true));
            std::make_shared<session>(std::move(s))->start();
        }
        if (acceptor.is_open())
            accept(acceptor);
    });
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
    asio::io_context ioc(1);
    tcp::acceptor acceptor(ioc);
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    accept(acceptor);
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
    ioc.run();
    return 0;
}

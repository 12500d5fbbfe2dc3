#pragma once

#include "corio/core/task.hpp"
#include "corio/io/stream_options.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/net/endpoint.hpp"
#include "corio/net/unix_endpoint.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace corio {

namespace net {
class socket;
}
namespace detail {
class server_state;
}

/// What start_server runs for each connection: a coroutine that gets the connection's reader and
/// writer (asyncio's client_connected_cb). The connection closes when the handler has dropped
/// them (its frame ends), after flushing what the writer still buffers.
using connection_handler = std::function<task<void>(stream_reader, stream_writer)>;

/// How start_server listens, accepts and buffers (asyncio's create_server arguments).
struct server_options {
    /// The queue of connections not yet accepted (listen(2); asyncio's default, 100).
    int backlog = 100;
    /// SO_REUSEADDR (asyncio's default on POSIX).
    bool reuse_address = true;
    /// SO_REUSEPORT: several servers (one per loop) on one port, balanced by the kernel.
    bool reuse_port = false;
    /// Each connection's reader limit and writer water marks.
    stream_options streams{};
    /// Accept back-off: when accept fails for lack of file descriptors or memory (EMFILE,
    /// ENFILE, ENOBUFS, ENOMEM) or for an unexpected reason, the server waits this long before
    /// accepting again, doubling the wait at each failure up to accept_retry_max, and back to
    /// no wait after a success. The queued connections are served once fds are free again; the
    /// server neither spins nor stops. (asyncio waits a fixed second.)
    std::chrono::milliseconds accept_retry_delay = std::chrono::milliseconds(10);
    std::chrono::milliseconds accept_retry_max = std::chrono::seconds(1);
    /// Accept at once; false: only once start_serving() or serve_forever() is called.
    bool start_serving = true;
};

/// A listening server (asyncio's Server): its listening sockets, an accept task per socket, and
/// a task per connection running the handler.
///
/// Connections: each accepted connection gets TCP_NODELAY and a reader/writer pair, and the
/// handler runs in a task of its own. An exception escaping a handler goes to the loop's
/// exception handler (with the peer's address) and closes that connection only.
///
/// Accept failures never stop the server: errors that concern one connection (ECONNABORTED...)
/// are skipped, and running out of fds (EMFILE/ENFILE) or memory makes it back off (see
/// server_options::accept_retry_delay), reporting the first failure of each episode to the
/// loop's exception handler.
///
/// Ownership: move-only; destroying the server closes it (stops listening) but leaves its
/// connections running. Loop thread only.
class server {
  public:
    server() noexcept = default;
    /// For corio's layers: takes one reference to `s`.
    explicit server(detail::server_state* s) noexcept;
    server(server&& o) noexcept;
    server& operator=(server&& o) noexcept;
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    [[nodiscard]] explicit operator bool() const noexcept { return m_state != nullptr; }

    /// Starts accepting, if it was not yet (asyncio's start_serving).
    void start_serving();
    /// True while accepting.
    [[nodiscard]] bool is_serving() const noexcept;
    /// Accepts until close() is called or the awaiting task is cancelled (asyncio's
    /// serve_forever).
    /// Cancellation: closes the server, then throws cancelled_error (without waiting for the
    /// connections, unlike asyncio, so that Ctrl-C under corio::run ends a server whose clients
    /// stay connected; corio::run then cancels their handlers).
    /// Errors: std::logic_error if the server is closed or another task already awaits
    /// serve_forever().
    [[nodiscard]] task<void> serve_forever();
    /// Stops listening: the listening sockets close at once (asyncio's close). Connections go on.
    /// Idempotent.
    void close() noexcept;
    /// Waits until the server is closed, every connection's transport is closed and every
    /// handler task has finished (asyncio 3.12's wait_closed).
    /// Cancellation: nothing is lost.
    [[nodiscard]] task<void> wait_closed();
    /// Closes every connection gracefully: pending reads see the end of the stream, buffered
    /// data is flushed (asyncio 3.13's close_clients).
    void close_clients() noexcept;
    /// Aborts every connection (asyncio 3.13's abort_clients).
    void abort_clients() noexcept;

    /// The listening sockets (empty once closed).
    [[nodiscard]] std::vector<const net::socket*> sockets() const;
    /// The endpoints the TCP sockets listen on, with the ports the kernel picked for port 0.
    /// Errors: std::system_error.
    [[nodiscard]] std::vector<net::endpoint> endpoints() const;
    /// The connections whose transport is open.
    [[nodiscard]] std::size_t client_count() const noexcept;
    /// The handler tasks still running.
    [[nodiscard]] std::size_t handler_count() const noexcept;

  private:
    detail::server_state* m_state = nullptr;
};

/// Listens on `host`:`port` and runs `handler` for every connection (asyncio's start_server).
/// `host` "" listens on every interface (0.0.0.0 and ::, as asyncio's None); a name listens on
/// all its addresses (resolved off the loop); port 0 lets the kernel pick (see
/// server::endpoints()). IPv6 sockets are IPv6-only, so that both families can share a port.
///
/// g++ 12: name a capturing lambda before passing it (see DESIGN.md's pitfall):
/// @code
/// auto handler = [&](corio::stream_reader r, corio::stream_writer w) -> corio::task<> {
///     while (auto line = co_await r.next_line())
///         co_await w.write(*line);
/// };
/// corio::server srv = co_await corio::start_server(handler, "127.0.0.1", 8888);
/// co_await srv.serve_forever();
/// @endcode
///
/// Cancellation: nothing is left listening. Errors: net::dns_error; std::system_error from
/// bind/listen ("bind to 0.0.0.0:80: Permission denied"), after closing what was opened;
/// std::invalid_argument for an empty handler; std::logic_error outside a running loop.
[[nodiscard]] task<server> start_server(connection_handler handler, std::string host,
                                        std::uint16_t port, server_options options = {});

/// Listens on the Unix socket at `path` (asyncio's start_unix_server). As asyncio does, a socket
/// file already at the path is removed first (a crashed server's leftover), and the file is
/// removed when the server closes (asyncio 3.13's cleanup_socket).
/// Errors: std::system_error ("bind to /run/app.sock: ..."; another kind of file at the path
/// makes bind fail); as start_server.
[[nodiscard]] task<server> start_unix_server(connection_handler handler, net::unix_endpoint path,
                                             server_options options = {});

} // namespace corio

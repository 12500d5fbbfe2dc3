#pragma once
// The client's private parts: pooled connections, per-origin pools, leases, and the state of a
// body being read.

#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/http/client_options.hpp"
#include "corio/http/client_response.hpp"
#include "corio/http/parser.hpp"
#include "corio/io/streams.hpp"
#include "corio/sync/semaphore.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace corio::http {
class url;
}

namespace corio::http::detail {

/// One connection to a server, with its own receive buffer (reused for every request on it, so
/// a warm connection reads without allocating) and request-head buffer.
struct client_connection {
    client_connection(streams s, std::size_t buffer_size) : io(std::move(s)) {
        buf.resize(buffer_size);
    }

    streams io;
    /// Receive buffer; bytes [begin, end) are received and not yet consumed. Views handed out
    /// (heads being parsed, body pieces) stay valid until the next fill(), the only place that
    /// moves bytes.
    std::string buf;
    std::size_t begin = 0;
    std::size_t end = 0;
    /// The request head being built (kept for its capacity).
    std::string out;
    /// When the connection went back to the pool.
    scheduler::time_point idle_since{};
    /// True once it has carried a request: a failure before the response may be the server's
    /// idle close, which is worth one retry.
    bool reused = false;

    [[nodiscard]] std::string_view buffered() const noexcept {
        return {buf.data() + begin, end - begin};
    }
    void consume(std::size_t n) noexcept {
        begin += n;
        if (begin == end)
            begin = end = 0;
    }
    /// Receives more bytes after the buffered ones (moving those to the front first when the
    /// buffer is full). Returns the count, 0 at the end of the stream.
    task<std::size_t> fill();
};

class host_pool;

/// The right to use one connection slot of a pool (a unit of its semaphore), and the
/// connection in it. Destroying it gives the unit back and closes the connection, unless
/// release(true) has put the connection back in the pool first.
class lease {
  public:
    lease() noexcept = default;
    explicit lease(std::shared_ptr<host_pool> p) noexcept : m_pool(std::move(p)) {}
    lease(lease&& o) noexcept = default;
    lease& operator=(lease&& o) noexcept {
        if (this != &o) {
            release(false);
            m_pool = std::move(o.m_pool);
            conn = std::move(o.conn);
        }
        return *this;
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { release(false); }

    /// Gives the unit back; the connection goes to the pool if `reusable`, else it is closed.
    void release(bool reusable) noexcept;

    std::unique_ptr<client_connection> conn;

  private:
    std::shared_ptr<host_pool> m_pool;
};

/// The connections to one origin (scheme, host, port): at most `limit` open, idle ones LIFO.
class host_pool : public std::enable_shared_from_this<host_pool> {
  public:
    host_pool(std::string scheme, std::string host, std::uint16_t port,
              const client_options& options, scheduler& sched, tls::context tls);
    host_pool(const host_pool&) = delete;
    host_pool& operator=(const host_pool&) = delete;
    ~host_pool();

    /// Takes a slot (waiting in FIFO order), then an idle connection that is still open, or a new
    /// one. Cancellation: nothing is held. Errors: from connecting; timeout_error from
    /// connect_timeout.
    task<lease> acquire(std::chrono::nanoseconds connect_timeout);

    /// Closes the idle connections; from now on returned connections are closed too.
    void close() noexcept;

    [[nodiscard]] std::size_t open() const noexcept { return m_open; }
    [[nodiscard]] std::size_t idle() const noexcept { return m_idle.size(); }

  private:
    friend class lease;
    struct sweep_timer : corio::detail::timer_node {
        host_pool* pool = nullptr;
    };

    void put_idle(std::unique_ptr<client_connection> c) noexcept;
    void drop(std::unique_ptr<client_connection> c, bool graceful) noexcept;
    void arm_sweep() noexcept;
    static void on_sweep(corio::detail::timer_node* n) noexcept;

    std::string m_scheme;
    std::string m_host;
    std::uint16_t m_port;
    /// The TLS context of an https pool (empty for http).
    tls::context m_tls;
    std::size_t m_buffer_size;
    std::chrono::nanoseconds m_idle_timeout;
    scheduler& m_sched;
    /// One unit per connection that may be in use. Invariant: in use + idle == m_open <= limit
    /// (a new connection is only made by a holder of a unit when no idle one is left).
    semaphore m_slots;
    /// Idle connections, the oldest first (reused from the back).
    std::vector<std::unique_ptr<client_connection>> m_idle;
    std::size_t m_open = 0;
    bool m_closed = false;
    sweep_timer m_sweep;
};

/// A client's pools, by origin.
class client_state {
  public:
    explicit client_state(client_options o) : options(std::move(o)) {}
    ~client_state() { close(); }

    std::shared_ptr<host_pool> pool_for(const url& u);
    void close() noexcept;

    client_options options;
    std::unordered_map<std::string, std::shared_ptr<host_pool>> pools;
};

/// A response body not read yet: the leased connection and how the body ends.
class client_body {
  public:
    client_body(lease l, body_kind kind, std::uint64_t length, bool keep_alive) noexcept
        : m_lease(std::move(l)), m_kind(kind), m_left(length), m_keep_alive(keep_alive),
          m_finished(kind == body_kind::none) {}
    client_body(const client_body&) = delete;
    client_body& operator=(const client_body&) = delete;
    /// Returns the connection to the pool if the body was read to its end and both sides keep
    /// it alive, else closes it.
    ~client_body();

    /// The next piece of the decoded body ("" at its end). The view is valid
    /// until the next call or the destruction. Errors: parse_error (502) for a body cut short or
    /// malformed; std::system_error.
    task<std::string_view> next_piece();

    /// True once every byte of the body has been returned.
    [[nodiscard]] bool finished() const noexcept { return m_finished; }
    [[nodiscard]] body_kind kind() const noexcept { return m_kind; }
    /// The bytes of the body still to come, for a Content-Length body.
    [[nodiscard]] std::uint64_t left() const noexcept { return m_left; }

  private:
    lease m_lease;
    body_kind m_kind;
    std::uint64_t m_left;
    bool m_keep_alive;
    bool m_finished;
    chunked_decoder m_chunks{parse_limits{16 * 1024, 100, UINT64_MAX}};
};

/// What the client sets in a response it builds.
struct client_response_access {
    static void fill(client_response& r, int status, std::string reason, int version_minor,
                     http::headers h, http::url u, std::uint64_t max_body,
                     std::unique_ptr<client_body> body);
    static void finish(client_response& r, int redirects,
                       std::optional<scheduler::time_point> deadline) noexcept;
    static client_body* body(client_response& r) noexcept { return r.m_stream.get(); }
    /// Closes the connection of a body that will not be read.
    static void drop_body(client_response& r) noexcept { r.m_stream.reset(); }
};

} // namespace corio::http::detail

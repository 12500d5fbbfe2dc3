#pragma once
// The HTTP server's private parts: the per-thread buffers, one loop's server, and a connection.

#include "corio/core/detail/task_header.hpp"
#include "corio/core/detail/timer_queue.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/http/request.hpp"
#include "corio/http/response.hpp"
#include "corio/http/router.hpp"
#include "corio/http/server.hpp"
#include "corio/io/server.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/sync/event.hpp"

#include <array>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corio {
class event_loop;
}

namespace corio::http::detail {

/// The request's private parts, for the server.
struct request_access {
    static request_head& head(request& r) noexcept { return r.m_head; }
    static std::string& body(request& r) noexcept { return r.m_body; }
    static void reset(request& r) noexcept { r.reset(); }
    static void split_target(request& r) noexcept { r.split_target(); }
    static void set_peer(request& r, const net::endpoint& e) noexcept { r.m_peer = e; }
};

/// What every thread of a server shares, read-only.
struct shared_config {
    router routes;
    server_options options;
};

/// The buffers of one thread, shared by its connections: the scratch buffer reads go into
/// (used only between two suspension points), a pool of strings that connections borrow while
/// they process a read, and the cached Date header line.
class thread_buffers {
  public:
    static constexpr std::size_t scratch_size = 64 * 1024;
    static constexpr std::size_t max_pooled = 256;
    static constexpr std::size_t max_pooled_capacity = 256 * 1024;
    static constexpr std::size_t min_capacity = 4096;

    static thread_buffers& get() noexcept;

    [[nodiscard]] std::span<std::byte> scratch() noexcept { return m_scratch; }
    /// A string from the pool (empty, with at least min_capacity), or a new one.
    /// Errors: std::bad_alloc.
    [[nodiscard]] std::string take();
    /// Returns a string to the pool.
    void give(std::string&& s) noexcept;
    /// "Date: <IMF-fixdate>\r\n", reformatted at most once per second.
    [[nodiscard]] std::string_view date_line() noexcept;

  private:
    std::array<std::byte, scratch_size> m_scratch;
    std::vector<std::string> m_pool;
    std::time_t m_date_second = -1;
    char m_date[64] = {};
    std::size_t m_date_len = 0;
};

class connection;

/// One loop's part of a server: its corio::server (listener) and its connections.
///
/// Lifetime: shared by the http::server (or a remote thread's main task) and by every
/// connection's task, so a server destroyed without shutdown() leaves nothing dangling: its
/// connections are aborted and end on their own.
class loop_server : public std::enable_shared_from_this<loop_server> {
  public:
    explicit loop_server(std::shared_ptr<const shared_config> cfg) noexcept;
    loop_server(const loop_server&) = delete;
    loop_server& operator=(const loop_server&) = delete;
    ~loop_server();

    task<void> start(std::string host, std::uint16_t port, bool reuse_port);
    task<void> shutdown(std::chrono::milliseconds grace);
    /// Stops listening and aborts every connection (the server is destroyed unshut).
    void abandon() noexcept;

    [[nodiscard]] std::vector<net::endpoint> endpoints() const { return m_server.endpoints(); }
    [[nodiscard]] std::size_t connection_count() const noexcept { return m_count; }
    [[nodiscard]] std::uint64_t requests_served() const noexcept { return m_served; }
    /// Set once the server has shut down (what serve_forever waits for).
    [[nodiscard]] corio::event& finished() noexcept { return m_finished; }

    void add(connection& c) noexcept;
    void remove(connection& c) noexcept;
    void report(std::string message, std::exception_ptr e) noexcept;

    [[nodiscard]] const shared_config& config() const noexcept { return *m_cfg; }
    [[nodiscard]] bool shutting_down() const noexcept { return m_shutting_down; }
    [[nodiscard]] scheduler& loop() const noexcept { return *m_sched; }
    void count_request() noexcept { ++m_served; }

  private:
    std::shared_ptr<const shared_config> m_cfg;
    scheduler* m_sched = scheduler::current();
    corio::server m_server;
    // Live connections, an intrusive list through connection::m_prev/m_next.
    connection* m_first = nullptr;
    std::size_t m_count = 0;
    std::uint64_t m_served = 0;
    bool m_shutting_down = false;
    corio::event m_drained;  // set when shutting down and no connection is left
    corio::event m_finished; // set when shutdown() has finished
};

/// One connection's state, in its task's frame.
class connection : corio::detail::timer_node {
  public:
    /// Where the connection is: what its deadline means, and what shutdown does to it.
    enum class phase : std::uint8_t {
        idle, ///< waiting for the first byte of a request (closed at once by a shutdown)
        head, ///< a partial head is buffered (header_timeout)
        body, ///< reading a body (body_timeout)
        busy, ///< in the handler or writing (no deadline)
    };
    enum class stop_reason : std::uint8_t { none, timeout, shutdown, abort };

    connection(loop_server& ls, stream_reader r, stream_writer w);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    /// Serves requests until the connection ends. Errors: std::system_error from the stream;
    /// cancelled_error (see m_stop).
    task<void> run();

    /// Ends the connection from outside (timer, shutdown): cancels its task.
    void stop(stop_reason why) noexcept;
    /// Aborts the transport (the server is being destroyed).
    void abort() noexcept { m_w.abort(); }

    /// After run() threw cancelled_error: true if stop() caused it (the task then ends quietly).
    [[nodiscard]] stop_reason stopped() const noexcept { return m_stop; }
    /// Answers 408 if the timeout hit a partially received request.
    void on_timeout() noexcept;

    connection* m_prev = nullptr;
    connection* m_next = nullptr;
    phase m_phase = phase::idle;

  private:
    /// Reads more bytes into m_in (after flushing the responses in m_out), waiting with the
    /// deadline of the current phase. Returns false at the end of the stream.
    task<bool> read_more();
    /// Sends what m_out holds and waits while the writer is above its high-water mark.
    task<void> flush();
    void flush_nowait();
    /// Reads the body of the request in m_req into its body string.
    task<bool> read_body();
    /// Appends the serialized response to m_out.
    void write_head(const response& r, bool head_request, bool keep_alive, bool chunked,
                    std::size_t content_length);
    void write_error(int status, std::string_view what);
    /// Moves the views of the request after m_in moved from `old_data`.
    void rebase(const char* old_data) noexcept;
    void set_deadline(scheduler::time_point when) noexcept;
    void clear_deadline() noexcept { m_deadline = no_deadline; }
    void release_buffers() noexcept;
    /// Borrows m_out from the pool if it is not yet.
    void borrow_out();
    static void on_fire(timer_node* n) noexcept;

    static constexpr std::int64_t no_deadline = INT64_MAX;

    loop_server& m_ls;
    const shared_config& m_cfg;
    thread_buffers& m_buffers;
    stream_reader m_r;
    stream_writer m_w;
    corio::detail::task_header* m_task;
    request m_req;
    // The bytes received and not yet consumed, from m_in_pos (borrowed from the pool while
    // non-empty; views of m_req point into it while a request is being handled).
    std::string m_in;
    std::size_t m_in_pos = 0;
    bool m_in_borrowed = false;
    bool m_out_borrowed = false;
    // Responses not yet written (borrowed from the pool while non-empty).
    std::string m_out;
    // The deadline of the current wait, in loop-clock nanoseconds (no_deadline: none). The timer
    // is armed lazily: it stays armed at m_armed_at and, when it fires early, re-arms itself at
    // m_deadline, so a request costs no heap operation.
    std::int64_t m_deadline = no_deadline;
    std::int64_t m_armed_at = no_deadline;
    std::int64_t m_head_started = 0;
    stop_reason m_stop = stop_reason::none;
    bool m_first_request = true;
    bool m_timed_out_in_head = false;
};

/// The connection handler given to corio::start_server.
task<void> connection_main(std::shared_ptr<loop_server> ls, stream_reader r, stream_writer w);

} // namespace corio::http::detail

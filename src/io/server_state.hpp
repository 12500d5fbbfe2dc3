#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/io/server.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/net/unix_listener.hpp"
#include "corio/sync/event.hpp"

#include "backend/backend.hpp"
#include "io/counted_ref.hpp"

#include <coroutine>
#include <cstddef>
#include <exception>
#include <string>
#include <variant>
#include <vector>

namespace corio {
class event_loop;
}

namespace corio::detail {

class stream_state;
struct handler_watch;

/// The multishot accept of one listener, for backends with backend_caps::multishot_accept
/// (io_uring): one armed operation delivers every connection, and the fds wait here until the
/// accept loop takes them. It lives in the accept loop's frame (so the connections cost nothing
/// here beyond the fd queue, whose capacity only grows to the largest burst of one loop turn,
/// as the loop takes every queued fd before it suspends again).
///
/// `co_await acceptor.next()` gives the next accepted connection, or the errno that ended the
/// operation (after the connections accepted before it); the next one arms it again. Once
/// withdrawn it gives ECANCELED. Cancellation: the operation is withdrawn at once, and the fds
/// queued or accepted too late are closed (the connections are lost: the server is closing).
class multishot_accept : wait_node {
  public:
    multishot_accept(event_loop& loop, int listen_fd) noexcept;
    multishot_accept(const multishot_accept&) = delete;
    multishot_accept& operator=(const multishot_accept&) = delete;
    ~multishot_accept() { withdraw(); }

    /// True when `loop`'s backend has multishot accept.
    [[nodiscard]] static bool supported(event_loop& loop) noexcept;

    /// What `co_await acceptor.next()` gives: the next connection (error 0), or the errno that
    /// ended the operation (conn closed).
    struct next_result {
        net::socket conn;
        int error = 0;
    };
    /// The awaiter of next(); trivially destructible, so a temporary is safe with g++ 12.
    struct next_awaiter {
        multishot_accept* self;
        [[nodiscard]] bool await_ready() const noexcept { return self->ready(); }
        bool await_suspend(std::coroutine_handle<> h) { return self->suspend(h); }
        next_result await_resume() { return self->resume(); }
    };
    [[nodiscard]] next_awaiter next() noexcept { return next_awaiter{this}; }

    /// Cancels the operation (the backend closes what it accepts too late) and closes the fds
    /// queued here. Later awaits give ECANCELED at once.
    void withdraw() noexcept;

  private:
    [[nodiscard]] bool ready() const noexcept {
        return m_head < m_fds.size() || m_error != 0 || m_withdrawn;
    }
    bool suspend(std::coroutine_handle<> h);
    next_result resume();

    /// The operation and the way back from its completion to this object.
    struct accept_op {
        io_operation op;
        multishot_accept* self = nullptr;
    };

    static void on_accept(io_operation* op) noexcept;
    static void on_cancel(wait_node* w, task_header& t) noexcept;

    accept_op m_op;
    backend* m_backend;
    /// Accepted fds not taken yet: m_fds[m_head..]. Emptied (capacity kept) once all are taken.
    std::vector<int> m_fds;
    std::size_t m_head = 0;
    /// The -errno that ended the operation, given out after the queued fds (0: none).
    int m_error = 0;
    bool m_armed = false;     ///< the operation is in the backend
    bool m_withdrawn = false; ///< withdraw() was called: nothing more is accepted
    /// The accept loop while it waits here (null otherwise).
    task_header* m_task = nullptr;
    static constexpr wait_kind s_wait_kind{&on_cancel, "accept"};
};

/// The shared state of a start_server server. The server handle, each accept task, each open
/// connection and each running handler hold a counted reference, so it lives as long as any of
/// them needs it (loop thread only).
class server_state {
  public:
    server_state(event_loop& loop, connection_handler handler, const server_options& options);
    server_state(const server_state&) = delete;
    server_state& operator=(const server_state&) = delete;

    void add_ref() noexcept { ++m_refs; }
    void release() noexcept {
        if (--m_refs == 0)
            delete this;
    }

    void start_serving();
    void close() noexcept;
    static task<void> serve_forever(counted_ref<server_state> s);
    static task<void> wait_closed(counted_ref<server_state> s);
    void close_clients() noexcept;
    void abort_clients() noexcept;

    /// A connection's transport closed (it leaves the list of clients).
    void client_closed(stream_state& s) noexcept;
    /// A handler task ended.
    static void on_handler_done(done_link* l, task_header& t) noexcept;
    /// Handler bookkeeping: a watch starts, ends, or moves (from a stream state to the heap).
    void add_watch(handler_watch& w) noexcept;
    void remove_watch(handler_watch& w) noexcept;
    void replace_watch(handler_watch& old_watch, handler_watch& new_watch) noexcept;
    /// Set m_idle once closed with no client and no handler left.
    void check_idle() noexcept;

    struct listener {
        std::variant<net::tcp_listener, net::unix_listener> l;
        [[nodiscard]] net::socket& sock() noexcept {
            return l.index() == 0 ? std::get<0>(l).sock() : std::get<1>(l).sock();
        }
        [[nodiscard]] bool is_tcp() const noexcept { return l.index() == 0; }
        /// The multishot accept of this listener's accept loop, while it has one; close()
        /// withdraws it before it closes the listener, so no accept outlives the listener.
        multishot_accept* accepting = nullptr;
        void close() noexcept {
            if (l.index() == 0)
                std::get<0>(l).close();
            else
                std::get<1>(l).close();
        }
    };

    std::vector<listener> m_listeners;
    std::size_t m_client_count = 0;
    std::size_t m_handlers = 0;
    bool m_serving = false;
    bool m_closed = false;

  private:
    ~server_state();
    static task<void> accept_loop(counted_ref<server_state> s, std::size_t index);
    void start_client(net::socket conn, bool tcp) noexcept;
    void report(std::string message, std::exception_ptr e) noexcept;

    std::size_t m_refs = 0;
    event_loop* m_loop;
    connection_handler m_handler;
    server_options m_options;
    std::vector<task_handle<void>> m_accept_tasks;
    /// The connections whose transport is open (linked through stream_state::m_srv_*).
    stream_state* m_clients = nullptr;
    /// The handler tasks still running (m_handlers of them).
    handler_watch* m_watches = nullptr;
    bool m_serving_forever = false;
    /// Set by close(); serve_forever waits for it.
    event m_closed_event;
    /// Set once closed with no client and no handler left; wait_closed waits for it.
    event m_idle;
};

} // namespace corio::detail

#pragma once

#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/io/server.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/net/unix_listener.hpp"
#include "corio/sync/event.hpp"

#include "io/counted_ref.hpp"

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

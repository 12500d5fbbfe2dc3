// http::start_server: each corio::start_server connection runs connection::run, a loop that
// reads, parses, dispatches and writes responses in order.
//
// The hot path of a keep-alive connection with a body-less request: wait_readable() (no buffer
// held while idle), one try_read() into the thread's 64 KiB scratch buffer, a copy of those
// bytes into a buffer borrowed from the thread's pool (so a handler may suspend while the
// request's views stay valid: another connection reuses the scratch buffer, not this one),
// parse, route, the handler, the response appended to a second borrowed buffer, and one
// write_nowait() for every response of that read. Both buffers go back to the pool when the
// batch is done, so an idle connection holds none, and nothing is allocated once warm.
#include "corio/http/server.hpp"

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/io/server.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/loop_group.hpp"
#include "corio/runtime/to_thread.hpp"
#include "corio/sync/event.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "server_connection.hpp"

#include <charconv>
#include <ctime>
#include <future>
#include <stdexcept>
#include <system_error>

namespace corio::http::detail {

// ------------------------------------------------------------- per thread --

thread_buffers& thread_buffers::get() noexcept {
    static thread_local thread_buffers t;
    return t;
}

std::string thread_buffers::take() {
    std::string s;
    if (!m_pool.empty()) {
        s = std::move(m_pool.back());
        m_pool.pop_back();
    }
    // Every pooled buffer has at least this much room, so that a buffer that served as a small
    // read buffer does not grow (allocate) when it next holds responses.
    s.reserve(min_capacity);
    return s;
}

void thread_buffers::give(std::string&& s) noexcept {
    // Keep a few buffers of a reasonable size; a buffer grown by a big body goes back to malloc.
    if (s.capacity() > max_pooled_capacity || m_pool.size() >= max_pooled) {
        std::string().swap(s);
        return;
    }
    s.clear();
    try {
        m_pool.push_back(std::move(s));
    } catch (...) { // the pool could not grow: the buffer goes
    }
}

std::string_view thread_buffers::date_line() noexcept {
    const std::time_t now = std::time(nullptr);
    if (now != m_date_second) {
        m_date_second = now;
        std::tm tm{};
        ::gmtime_r(&now, &tm);
        m_date_len =
            std::strftime(m_date, sizeof m_date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    }
    return {m_date, m_date_len};
}

// --------------------------------------------------------------- the loop --

loop_server::loop_server(std::shared_ptr<const shared_config> cfg) noexcept
    : m_cfg(std::move(cfg)) {}

loop_server::~loop_server() {
    m_server.close();
}

void loop_server::abandon() noexcept {
    m_shutting_down = true;
    m_server.close();
    for (connection* c = m_first; c;) {
        connection* next = c->m_next;
        c->stop(connection::stop_reason::abort);
        c = next;
    }
}

task<void> loop_server::start(std::string host, std::uint16_t port, bool reuse_port) {
    corio::server_options o;
    o.backlog = m_cfg->options.backlog;
    o.reuse_port = reuse_port;
    o.streams.limit = std::max<std::size_t>(64 * 1024, m_cfg->options.limits.max_head_bytes);
    loop_server* self = this;
    // The handler is called (and the connection's frame made) while the listener is open, so
    // while this object is alive; the frame then keeps it alive.
    corio::connection_handler h = [self](stream_reader r, stream_writer w) {
        return connection_main(self->shared_from_this(), std::move(r), std::move(w));
    };
    // Named first: g++ 12 destroys temporaries built inside a co_await expression twice.
    task<corio::server> t = corio::start_server(std::move(h), std::move(host), port, o);
    m_server = co_await std::move(t);
}

void loop_server::add(connection& c) noexcept {
    c.m_prev = nullptr;
    c.m_next = m_first;
    if (m_first)
        m_first->m_prev = &c;
    m_first = &c;
    ++m_count;
}

void loop_server::remove(connection& c) noexcept {
    if (c.m_prev)
        c.m_prev->m_next = c.m_next;
    else
        m_first = c.m_next;
    if (c.m_next)
        c.m_next->m_prev = c.m_prev;
    --m_count;
    if (m_count == 0 && m_shutting_down)
        m_drained.set();
}

task<void> loop_server::shutdown(std::chrono::milliseconds grace) {
    if (!m_shutting_down) {
        m_shutting_down = true;
        m_server.close();
        // Idle keep-alive connections close now; the busy ones close after their response.
        for (connection* c = m_first; c;) {
            connection* next = c->m_next;
            if (c->m_phase == connection::phase::idle)
                c->stop(connection::stop_reason::shutdown);
            c = next;
        }
        if (m_count == 0)
            m_drained.set();
    }
    bool drained = m_drained.is_set();
    if (!drained) {
        auto wait = [](corio::event& e) -> task<void> { co_await e.wait(); };
        task<void> w = wait(m_drained);
        try {
            task<void> guarded = corio::timeout(grace, std::move(w));
            co_await std::move(guarded);
            drained = true;
        } catch (const timeout_error&) {
        }
    }
    if (!drained) {
        for (connection* c = m_first; c;) {
            connection* next = c->m_next;
            c->stop(connection::stop_reason::abort);
            c = next;
        }
        m_server.abort_clients();
    }
    co_await m_server.wait_closed();
}

void loop_server::report(std::string message, std::exception_ptr e) noexcept {
    if (m_sched)
        m_sched->call_exception_handler(exception_context{std::move(message), std::move(e), {}});
}

// ------------------------------------------------------------- the server --

class server_impl {
  public:
    std::shared_ptr<const shared_config> cfg;
    std::shared_ptr<loop_server> local;
    // Other threads (server_options::threads > 1): their loops, and their loop_server (each
    // owned by the task that runs it on its own loop).
    std::unique_ptr<loop_group> group;
    std::vector<loop_server*> remote;
    std::vector<std::future<void>> remote_done;
    bool shut_down = false;

    ~server_impl() {
        if (local && !shut_down)
            local->abandon();
        if (group) {
            group->stop(); // cancels the remote mains, which abort their connections
            try {
                group->join();
            } catch (...) {
            }
        }
    }
};

namespace {

// The main task of one of the other threads: serves until its shutdown() has finished.
task<void> remote_main(std::shared_ptr<const shared_config> cfg, std::string host,
                       std::uint16_t port, std::shared_ptr<std::promise<loop_server*>> started) {
    auto ls = std::make_shared<loop_server>(cfg);
    try {
        task<void> t = ls->start(host, port, true);
        co_await std::move(t);
    } catch (...) {
        started->set_exception(std::current_exception());
        co_return;
    }
    started->set_value(ls.get());
    auto wait = [](corio::event& e) -> task<void> { co_await e.wait(); };
    task<void> w = wait(ls->finished());
    co_await std::move(w);
}

task<void> shutdown_remote(loop_server* ls, std::chrono::milliseconds grace) {
    task<void> t = ls->shutdown(grace);
    co_await std::move(t);
    ls->finished().set();
}

} // namespace

} // namespace corio::http::detail

namespace corio::http {

server::server() noexcept = default;
server::server(std::unique_ptr<detail::server_impl> impl) noexcept : m_impl(std::move(impl)) {}
server::server(server&&) noexcept = default;
server& server::operator=(server&&) noexcept = default;
server::~server() = default;

std::vector<net::endpoint> server::endpoints() const {
    if (!m_impl || !m_impl->local)
        return {};
    return m_impl->local->endpoints();
}

std::uint16_t server::port() const {
    auto eps = endpoints();
    return eps.empty() ? 0 : eps.front().port();
}

std::size_t server::connection_count() const noexcept {
    return m_impl && m_impl->local ? m_impl->local->connection_count() : 0;
}

std::uint64_t server::requests_served() const noexcept {
    return m_impl && m_impl->local ? m_impl->local->requests_served() : 0;
}

task<void> server::serve_forever() {
    if (!m_impl)
        throw std::logic_error("corio::http::server::serve_forever: no server");
    auto wait = [](corio::event& e) -> task<void> { co_await e.wait(); };
    task<void> w = wait(m_impl->local->finished());
    bool cancelled = false;
    try {
        co_await std::move(w);
    } catch (const cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        // Shut down with no grace (the request is withdrawn while it runs), then report the
        // cancellation.
        corio::detail::task_header* self = corio::detail::current_task_header();
        const std::uint32_t pending = self->m_cancel_requests;
        for (std::uint32_t i = 0; i < pending; ++i)
            self->uncancel();
        task<void> s = shutdown(std::chrono::milliseconds(0));
        co_await std::move(s);
        throw cancelled_error();
    }
}

task<void> server::shutdown(std::chrono::milliseconds grace) {
    if (!m_impl)
        co_return;
    detail::server_impl& impl = *m_impl;
    if (impl.shut_down)
        co_return;
    // The other threads shut down concurrently with this one.
    std::vector<std::future<void>> others;
    if (impl.group) {
        for (std::size_t i = 0; i < impl.remote.size(); ++i) {
            detail::loop_server* ls = impl.remote[i];
            others.push_back(
                impl.group->spawn(i, [ls, grace] { return detail::shutdown_remote(ls, grace); }));
        }
    }
    task<void> t = impl.local->shutdown(grace);
    co_await std::move(t);
    for (std::future<void>& f : others) {
        auto get = [&f] { f.get(); };
        co_await corio::to_thread(get);
    }
    if (impl.group) {
        loop_group* g = impl.group.get();
        auto stop = [g] {
            g->stop();
            g->join();
        };
        co_await corio::to_thread(stop);
    }
    impl.shut_down = true;
    impl.local->finished().set();
}

namespace {

// The coroutine behind start_server. The public overloads are plain functions that build its
// by-value parameters themselves, so a caller's `co_await start_server(std::move(r), "::1", p)`
// creates no temporary with a destructor inside the co_await (g++ 12, DESIGN.md).
task<server> start_serving(router routes, std::string host, std::uint16_t port,
                           server_options options) {
    if (options.threads == 0)
        throw std::invalid_argument("corio::http::start_server: threads must be at least 1");
    auto impl = std::make_unique<detail::server_impl>();
    const std::size_t threads = options.threads;
    const bool reuse_port = options.reuse_port || threads > 1;
    impl->cfg = std::make_shared<const detail::shared_config>(
        detail::shared_config{std::move(routes), std::move(options)});
    impl->local = std::make_shared<detail::loop_server>(impl->cfg);
    task<void> st = impl->local->start(host, port, reuse_port);
    co_await std::move(st);
    if (threads > 1) {
        // The others bind the port this one got (port 0 picks one here).
        const std::uint16_t bound = impl->local->endpoints().front().port();
        impl->group = std::make_unique<loop_group>(threads - 1);
        std::vector<std::future<detail::loop_server*>> started;
        for (std::size_t i = 0; i + 1 < threads; ++i) {
            auto p = std::make_shared<std::promise<detail::loop_server*>>();
            started.push_back(p->get_future());
            auto cfg = impl->cfg;
            impl->remote_done.push_back(impl->group->spawn(
                i, [cfg, host, bound, p] { return detail::remote_main(cfg, host, bound, p); }));
        }
        for (auto& f : started) {
            detail::loop_server* ls = nullptr;
            auto get = [&f, &ls] { ls = f.get(); };
            co_await corio::to_thread(get);
            impl->remote.push_back(ls);
        }
    }
    co_return server(std::move(impl));
}

} // namespace

task<server> start_server(router&& routes, std::string_view host, std::uint16_t port) {
    return start_serving(std::move(routes), std::string(host), port, server_options());
}

task<server> start_server(router&& routes, std::string_view host, std::uint16_t port,
                          const server_options& options) {
    return start_serving(std::move(routes), std::string(host), port, options);
}

task<server> start_server(const router& routes, std::string_view host, std::uint16_t port) {
    return start_serving(routes, std::string(host), port, server_options());
}

task<server> start_server(const router& routes, std::string_view host, std::uint16_t port,
                          const server_options& options) {
    return start_serving(routes, std::string(host), port, options);
}

} // namespace corio::http

#include "corio/io/server.hpp"

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/net/resolve.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "io/server_state.hpp"
#include "io/stream_state.hpp"
#include "sys/posix/errors.hpp"
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace corio {

namespace detail {

// ------------------------------------------------------------------------ multishot_accept ---

multishot_accept::multishot_accept(event_loop& loop, int listen_fd) noexcept
    : m_backend(&loop.io_backend()) {
    m_kind = &s_wait_kind;
    m_op.self = this;
    m_op.op.m_kind = io_kind::accept;
    m_op.op.m_multishot = true;
    m_op.op.m_fd = listen_fd;
    m_op.op.m_complete = &on_accept;
}

bool multishot_accept::supported(event_loop& loop) noexcept {
    return loop.io_backend().caps().multishot_accept;
}

bool multishot_accept::suspend(std::coroutine_handle<> h) {
    task_header& t = this_task("accept");
    if (t.m_must_cancel) {
        m_task = &t; // await_resume throws
        return false;
    }
    if (!m_armed) {
        // The first await, or the one after an error ended the operation: armed again.
        m_backend->submit(m_op.op); // completes in a later wait (no multishot_accept otherwise)
        m_armed = true;
    }
    m_task = &t;
    t.suspend(*this, h);
    return true;
}

multishot_accept::next_result multishot_accept::resume() {
    if (task_header* t = std::exchange(m_task, nullptr))
        t->throw_if_cancelled(); // what is queued stays for withdraw() to close
    next_result r;
    if (m_head < m_fds.size()) {
        r.conn = net::socket(m_fds[m_head++]); // accepted with SOCK_NONBLOCK | SOCK_CLOEXEC
        if (m_head == m_fds.size()) {
            m_fds.clear(); // the capacity stays for the next burst
            m_head = 0;
        }
    } else {
        r.error = m_error != 0 ? -std::exchange(m_error, 0) : ECANCELED; // ECANCELED: withdrawn
    }
    return r;
}

void multishot_accept::on_accept(io_operation* op) noexcept {
    multishot_accept* self = reinterpret_cast<accept_op*>(op)->self;
    const auto r = static_cast<int>(op->m_result);
    if (!op->m_more)
        self->m_armed = false;
    if (r >= 0) {
        try {
            self->m_fds.push_back(r);
        } catch (...) {
            ::close(r); // out of memory: this connection is dropped, the next ones still come
        }
    } else if (!op->m_more) {
        self->m_error = r;
    }
    // Woken once: later completions of the same turn only queue their fd.
    if (task_header* t = self->m_task; t && t->m_wait == static_cast<wait_node*>(self))
        t->wake();
}

void multishot_accept::on_cancel(wait_node* w, task_header& t) noexcept {
    auto* self = static_cast<multishot_accept*>(w);
    self->withdraw();
    t.m_must_cancel = true;
    t.wake();
}

void multishot_accept::withdraw() noexcept {
    m_withdrawn = true;
    if (m_armed) {
        // Synchronous: no completion comes after this, and the backend closes the fds the
        // kernel accepted for the operation but had not delivered yet.
        m_armed = false;
        m_backend->cancel(m_op.op);
    }
    for (std::size_t i = m_head; i < m_fds.size(); ++i)
        ::close(m_fds[i]);
    m_fds.clear();
    m_head = 0;
}

// ------------------------------------------------------------- stream_state's server hooks ---

void stream_state::closed_for_server() noexcept {
    if (server_state* s = m_server) {
        m_server = nullptr;
        s->client_closed(*this);
    }
}

void stream_state::detach_watch() noexcept {
    server_state* s = m_watch.m_server;
    if (!s)
        return;
    if (m_watch.m_linked) {
        // The streams are gone but the handler runs on: its end is still the server's business.
        task_header* t = m_watch.m_task;
        if (auto* w = new (std::nothrow) handler_watch) {
            w->m_server = s;
            w->m_task = t;
            w->m_on_done = &server_state::on_handler_done;
            t->remove_done_link(m_watch);
            t->add_done_link(*w);
            s->replace_watch(m_watch, *w);
            return;
        }
        t->remove_done_link(m_watch);
    }
    // Unlinked without being called: the task was destroyed unfinished (the loop closed).
    s->remove_watch(m_watch);
    s->check_idle();
}

// ------------------------------------------------------------------------- server_state ---

server_state::server_state(event_loop& loop, connection_handler handler,
                           const server_options& options)
    : m_loop(&loop), m_handler(std::move(handler)), m_options(options) {}

server_state::~server_state() {
    for (listener& l : m_listeners)
        l.close();
    // Handlers still running (or abandoned by a closing loop) are nobody's business any more.
    while (handler_watch* w = m_watches) {
        if (w->m_linked)
            w->m_task->remove_done_link(*w);
        remove_watch(*w);
        if (!w->m_stream)
            delete w;
    }
}

void server_state::add_watch(handler_watch& w) noexcept {
    w.m_server = this;
    w.m_wprev = nullptr;
    w.m_wnext = m_watches;
    if (m_watches)
        m_watches->m_wprev = &w;
    m_watches = &w;
    ++m_handlers;
}

void server_state::remove_watch(handler_watch& w) noexcept {
    if (w.m_wprev)
        w.m_wprev->m_wnext = w.m_wnext;
    else
        m_watches = w.m_wnext;
    if (w.m_wnext)
        w.m_wnext->m_wprev = w.m_wprev;
    w.m_wprev = w.m_wnext = nullptr;
    w.m_server = nullptr;
    --m_handlers;
}

void server_state::replace_watch(handler_watch& old_watch, handler_watch& new_watch) noexcept {
    new_watch.m_server = this;
    new_watch.m_wprev = old_watch.m_wprev;
    new_watch.m_wnext = old_watch.m_wnext;
    if (new_watch.m_wprev)
        new_watch.m_wprev->m_wnext = &new_watch;
    else
        m_watches = &new_watch;
    if (new_watch.m_wnext)
        new_watch.m_wnext->m_wprev = &new_watch;
    old_watch.m_wprev = old_watch.m_wnext = nullptr;
    old_watch.m_server = nullptr;
}

void server_state::report(std::string message, std::exception_ptr e) noexcept {
    try {
        m_loop->call_exception_handler(exception_context{std::move(message), std::move(e), {}});
    } catch (...) {
        // Out of memory while reporting: nothing more can be done.
    }
}

void server_state::start_serving() {
    if (m_serving || m_closed)
        return;
    m_accept_tasks.reserve(m_listeners.size());
    for (std::size_t i = 0; i < m_listeners.size(); ++i)
        m_accept_tasks.push_back(
            create_task(*m_loop, accept_loop(counted_ref(this), i), "corio accept"));
    m_serving = true;
}

task<void> server_state::accept_loop(counted_ref<server_state> ref, std::size_t index) {
    server_state* s = ref.get();
    net::socket& sock = s->m_listeners[index].sock();
    const bool tcp = s->m_listeners[index].is_tcp();
    std::chrono::milliseconds delay{0};
    bool reported = false;
    // With a multishot accept (io_uring), one operation accepts every connection; the listener
    // points to it so that close() withdraws it before it closes the fd.
    std::optional<multishot_accept> multishot;
    struct unregister {
        server_state* s;
        std::size_t index;
        ~unregister() { s->m_listeners[index].accepting = nullptr; }
    } guard{s, index};
    if (multishot_accept::supported(*s->m_loop)) {
        multishot.emplace(*s->m_loop, sock.native_handle());
        s->m_listeners[index].accepting = &*multishot;
    }
    for (;;) {
        net::socket conn;
        std::exception_ptr failure;
        bool transient = false;
        try {
            if (multishot) {
                multishot_accept::next_result r = co_await multishot->next();
                if (r.error != 0)
                    sys::throw_errno(r.error, "accept");
                conn = std::move(r.conn);
            } else {
                net::accepted a = co_await sock.accept();
                conn = std::move(a.conn);
            }
        } catch (const std::system_error& e) {
            if (!s->m_serving)
                co_return; // closed: the listener's close aborted the accept
            transient = net::is_accept_transient(e.code());
            failure = std::current_exception();
        }
        if (!s->m_serving)
            co_return; // closed while the accepted connection waited to be taken: dropped
        if (conn.is_open()) {
            delay = std::chrono::milliseconds(0);
            reported = false;
            s->start_client(std::move(conn), tcp);
            continue;
        }
        if (transient)
            continue; // about that one connection only (ECONNABORTED...): take the next
        // Out of fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), or unexpected: the connection
        // stays queued and the listener readable, so accepting again at once would spin.
        if (!reported) {
            reported = true;
            std::string msg = "start_server: accept";
            try {
                msg += " on " + sock.local_address().to_string();
            } catch (...) {
            }
            msg += " failed; retrying every " +
                   std::to_string(s->m_options.accept_retry_delay.count()) +
                   " ms, doubling up to " + std::to_string(s->m_options.accept_retry_max.count()) +
                   " ms, until it succeeds";
            s->report(std::move(msg), failure);
        }
        delay = delay.count() == 0 ? s->m_options.accept_retry_delay
                                   : std::min(delay * 2, s->m_options.accept_retry_max);
        co_await sleep(delay);
    }
}

void server_state::start_client(net::socket conn, bool tcp) noexcept {
    if (tcp) {
        const int one = 1;
        ::setsockopt(conn.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    stream_state* st;
    try {
        st = new stream_state(*m_loop, std::move(conn), m_options.streams);
    } catch (...) {
        report("start_server: cannot set up a connection", std::current_exception());
        return; // `conn` closed
    }
    // The list of clients holds a reference to the server until the transport closes.
    st->m_server = this;
    st->m_srv_next = m_clients;
    if (m_clients)
        m_clients->m_srv_prev = st;
    m_clients = st;
    ++m_client_count;
    add_ref();

    stream_reader reader(st);
    stream_writer writer(st);
    try {
        task<void> t = m_handler(std::move(reader), std::move(writer));
        task_handle<void> h = create_task(*m_loop, std::move(t));
        handler_watch& w = st->m_watch;
        w.m_stream = st;
        w.m_task = h.get();
        w.m_on_done = &on_handler_done;
        h.get()->add_done_link(w);
        add_watch(w);
    } catch (...) {
        report("start_server: the connection handler could not start", std::current_exception());
        // The streams that were not handed over close the connection as they go.
    }
}

void server_state::on_handler_done(done_link* l, task_header& t) noexcept {
    auto* w = static_cast<handler_watch*>(l);
    server_state* s = w->m_server; // alive: a server detaches its watches when it goes
    stream_state* st = w->m_stream;
    // The server may go with the last connection this closes: a reference until the end.
    s->add_ref();
    s->remove_watch(*w);
    if (!st)
        delete w; // the heap watch of a handler whose streams went first
    if (t.m_exception && !t.m_cancelled) {
        // Reported here, with the peer, rather than as "never retrieved"; and only this
        // connection closes (asyncio's client_connected_cb failure).
        t.m_retrieved = true;
        std::string msg = "start_server: exception in a connection handler";
        if (st) {
            try {
                const net::socket_address peer = st->get_transport().peer_address();
                if (peer.size() > 0)
                    msg += " (peer " + peer.to_string() + ")";
            } catch (...) {
            }
            st->close();
        }
        try {
            s->m_loop->call_exception_handler(
                exception_context{std::move(msg), t.m_exception, scheduler::task_name(t)});
        } catch (...) {
        }
    }
    s->check_idle();
    s->release();
}

void server_state::client_closed(stream_state& st) noexcept {
    if (st.m_srv_prev)
        st.m_srv_prev->m_srv_next = st.m_srv_next;
    else
        m_clients = st.m_srv_next;
    if (st.m_srv_next)
        st.m_srv_next->m_srv_prev = st.m_srv_prev;
    st.m_srv_prev = st.m_srv_next = nullptr;
    --m_client_count;
    check_idle();
    release();
}

void server_state::check_idle() noexcept {
    if (m_closed && !m_clients && m_handlers == 0)
        m_idle.set();
}

void server_state::close() noexcept {
    if (m_closed)
        return;
    m_closed = true;
    m_serving = false;
    for (task_handle<void>& h : m_accept_tasks)
        h.cancel();
    m_accept_tasks.clear();
    for (listener& l : m_listeners) {
        // An accept task that was not parked in its multishot accept (woken, not resumed yet)
        // still has it armed: withdrawn here, or the kernel would accept on a closed listener.
        if (l.accepting)
            l.accepting->withdraw();
        l.close();
    }
    m_closed_event.set();
    check_idle();
}

void server_state::close_clients() noexcept {
    for (stream_state* c = m_clients; c;) {
        stream_state* next = c->m_srv_next; // close() unlinks c only, if it closes at once
        c->close();
        c = next;
    }
}

void server_state::abort_clients() noexcept {
    for (stream_state* c = m_clients; c;) {
        stream_state* next = c->m_srv_next;
        c->abort();
        c = next;
    }
}

task<void> server_state::serve_forever(counted_ref<server_state> ref) {
    server_state* s = ref.get();
    if (s->m_closed)
        throw std::logic_error("corio::server::serve_forever: the server is closed");
    if (s->m_serving_forever)
        throw std::logic_error("corio::server::serve_forever: another task already awaits it");
    s->m_serving_forever = true;
    struct reset {
        server_state* s;
        ~reset() { s->m_serving_forever = false; }
    } r{s};
    s->start_serving();
    try {
        co_await s->m_closed_event.wait();
    } catch (const cancelled_error&) {
        s->close();
        throw;
    }
}

task<void> server_state::wait_closed(counted_ref<server_state> ref) {
    co_await ref->m_idle.wait();
}

} // namespace detail

// ------------------------------------------------------------------------------- server ---

server::server(detail::server_state* s) noexcept : m_state(s) {
    if (m_state)
        m_state->add_ref();
}

server::server(server&& o) noexcept : m_state(std::exchange(o.m_state, nullptr)) {}

server& server::operator=(server&& o) noexcept {
    if (this != &o) {
        server old(std::move(*this));
        m_state = std::exchange(o.m_state, nullptr);
    }
    return *this;
}

server::~server() {
    if (m_state) {
        m_state->close();
        m_state->release();
    }
}

namespace {
detail::server_state& need(detail::server_state* s) {
    if (!s)
        throw std::logic_error("corio::server: no server (default-constructed)");
    return *s;
}
} // namespace

void server::start_serving() {
    need(m_state).start_serving();
}

bool server::is_serving() const noexcept {
    return m_state && m_state->m_serving;
}

task<void> server::serve_forever() {
    return detail::server_state::serve_forever(detail::counted_ref(&need(m_state)));
}

void server::close() noexcept {
    if (m_state)
        m_state->close();
}

task<void> server::wait_closed() {
    return detail::server_state::wait_closed(detail::counted_ref(&need(m_state)));
}

void server::close_clients() noexcept {
    if (m_state)
        m_state->close_clients();
}

void server::abort_clients() noexcept {
    if (m_state)
        m_state->abort_clients();
}

std::vector<const net::socket*> server::sockets() const {
    std::vector<const net::socket*> out;
    if (!m_state || m_state->m_closed)
        return out;
    for (detail::server_state::listener& l : m_state->m_listeners)
        out.push_back(&l.sock());
    return out;
}

std::vector<net::endpoint> server::endpoints() const {
    std::vector<net::endpoint> out;
    if (!m_state || m_state->m_closed)
        return out;
    for (detail::server_state::listener& l : m_state->m_listeners)
        if (l.is_tcp())
            out.push_back(std::get<0>(l.l).local_endpoint());
    return out;
}

std::size_t server::client_count() const noexcept {
    return m_state ? m_state->m_client_count : 0;
}

std::size_t server::handler_count() const noexcept {
    return m_state ? m_state->m_handlers : 0;
}

namespace {

event_loop& running_loop(const char* what) {
    event_loop* loop = event_loop::current();
    if (!loop)
        throw std::logic_error(std::string("corio::") + what + ": no running event loop");
    return *loop;
}

} // namespace

task<server> start_server(connection_handler handler, std::string host, std::uint16_t port,
                          server_options options) {
    event_loop& loop = running_loop("start_server");
    if (!handler)
        throw std::invalid_argument("corio::start_server: empty handler");
    net::resolve_options ro;
    ro.type = SOCK_STREAM;
    ro.flags = AI_PASSIVE;
    const std::vector<net::endpoint> addresses = co_await net::resolve(std::move(host), port, ro);
    // Owned here until the server handle takes it: a failed bind closes what was opened.
    detail::counted_ref<detail::server_state> st(
        new detail::server_state(loop, std::move(handler), options));
    st->m_listeners.reserve(addresses.size());
    for (const net::endpoint& ep : addresses) {
        net::listen_options lo;
        lo.backlog = options.backlog;
        lo.reuse_address = options.reuse_address;
        lo.reuse_port = options.reuse_port;
        if (ep.is_v6())
            lo.v6_only = true; // so that 0.0.0.0 and :: can share the port, as asyncio does
        try {
            st->m_listeners.push_back(
                detail::server_state::listener{net::tcp_listener::bind(ep, lo)});
        } catch (const std::system_error& e) {
            // A family the host cannot open (no IPv6) is skipped, as asyncio does.
            if (e.code() == std::errc::address_family_not_supported && addresses.size() > 1)
                continue;
            throw;
        }
    }
    if (st->m_listeners.empty())
        throw std::system_error(EAFNOSUPPORT, std::generic_category(),
                                "corio::start_server: no address could be opened");
    if (options.start_serving)
        st->start_serving();
    co_return server(st.get());
}

task<server> start_unix_server(connection_handler handler, net::unix_endpoint path,
                               server_options options) {
    event_loop& loop = running_loop("start_unix_server");
    if (!handler)
        throw std::invalid_argument("corio::start_unix_server: empty handler");
    detail::counted_ref<detail::server_state> st(
        new detail::server_state(loop, std::move(handler), options));
    net::unix_listen_options lo;
    lo.backlog = options.backlog;
    lo.unlink_existing = true; // asyncio removes a socket file left at the path
    lo.unlink_on_close = true;
    st->m_listeners.push_back(
        detail::server_state::listener{net::unix_listener::bind(std::move(path), lo)});
    if (options.start_serving)
        st->start_serving();
    co_return server(st.get());
}

} // namespace corio

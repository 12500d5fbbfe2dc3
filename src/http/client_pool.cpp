// The client's connection pool: per-origin slots, idle connections, their expiry, and leases.

#include "http/client_pool.hpp"

#include "corio/core/detail/task_header.hpp"
#include "corio/http/url.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/time/timeout.hpp"
#include "corio/tls/open_connection.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace corio::http::detail {

namespace {

/// Opens the byte stream of a new connection: TCP for http, TLS over TCP for https. The one
/// place that knows about schemes, so that HTTPS is added here alone.
task<streams> connect(std::string scheme, std::string host, std::uint16_t port, tls::context ctx) {
    if (scheme == "https") {
        tls::client_options o;
        o.alpn = std::vector<std::string>{"http/1.1"};
        auto t = tls::open_connection(std::move(host), port, std::move(ctx), std::move(o));
        co_return co_await std::move(t);
    }
    auto t = corio::open_connection(std::move(host), port);
    co_return co_await std::move(t);
}

/// True if an idle connection still looks usable: no end of stream, no error and no unexpected
/// bytes are waiting on it (urllib3's is_connection_dropped). A non-blocking read of one byte.
bool still_open(client_connection& c) noexcept {
    try {
        std::array<std::byte, 1> probe;
        const std::optional<std::size_t> n = c.io.reader.try_read(probe);
        return !n.has_value();
    } catch (...) {
        return false;
    }
}

} // namespace

task<std::size_t> client_connection::fill() {
    if (end == buf.size()) {
        // Full: move the unconsumed bytes to the front (views into the buffer end here).
        if (begin > 0) {
            std::memmove(buf.data(), buf.data() + begin, end - begin);
            end -= begin;
            begin = 0;
        } else {
            buf.resize(buf.size() * 2);
        }
    }
    const std::span<std::byte> room(reinterpret_cast<std::byte*>(buf.data()) + end,
                                    buf.size() - end);
    const std::size_t n = co_await io.reader.read_some(room);
    end += n;
    co_return n;
}

void lease::release(bool reusable) noexcept {
    if (!m_pool)
        return;
    std::shared_ptr<host_pool> pool = std::move(m_pool);
    if (conn) {
        if (reusable && !pool->m_closed)
            pool->put_idle(std::move(conn));
        else
            pool->drop(std::move(conn), reusable);
    }
    // After the connection is back, so that the waiter the unit goes to finds it idle.
    pool->m_slots.release();
}

host_pool::host_pool(std::string scheme, std::string host, std::uint16_t port,
                     const client_options& options, scheduler& sched, tls::context tls)
    : m_scheme(std::move(scheme)), m_host(std::move(host)), m_port(port), m_tls(std::move(tls)),
      m_buffer_size(std::max<std::size_t>(
          {options.buffer_size, std::size_t{4096}, options.limits.max_head_bytes + 1024})),
      m_idle_timeout(options.idle_timeout), m_sched(sched),
      m_slots(
          static_cast<std::ptrdiff_t>(std::max<std::size_t>(1, options.max_connections_per_host))) {
    m_sweep.pool = this;
    m_sweep.m_fire = &on_sweep;
}

host_pool::~host_pool() {
    if (m_sweep.armed())
        m_sched.cancel_timer(m_sweep);
    for (auto& c : m_idle)
        c->io.writer.close();
}

task<lease> host_pool::acquire(std::chrono::nanoseconds connect_timeout) {
    co_await m_slots.acquire();
    lease l(shared_from_this());
    while (!m_idle.empty()) {
        std::unique_ptr<client_connection> c = std::move(m_idle.back());
        m_idle.pop_back();
        if (m_sched.time() - c->idle_since < m_idle_timeout && still_open(*c)) {
            l.conn = std::move(c);
            co_return l;
        }
        drop(std::move(c), false);
    }
    std::string scheme = m_scheme;
    std::string host = m_host;
    auto connecting = connect(std::move(scheme), std::move(host), m_port, m_tls);
    streams s;
    if (connect_timeout > std::chrono::nanoseconds::zero())
        s = co_await corio::timeout(connect_timeout, std::move(connecting));
    else
        s = co_await std::move(connecting);
    l.conn = std::make_unique<client_connection>(std::move(s), m_buffer_size);
    ++m_open;
    co_return l;
}

void host_pool::put_idle(std::unique_ptr<client_connection> c) noexcept {
    c->idle_since = m_sched.time();
    c->reused = true;
    try {
        m_idle.push_back(std::move(c));
    } catch (...) {
        drop(std::move(c), true);
        return;
    }
    arm_sweep();
}

void host_pool::drop(std::unique_ptr<client_connection> c, bool graceful) noexcept {
    // abort() closes the socket now (a half-read response must not linger); close() lets a
    // finished exchange end with a FIN.
    if (graceful)
        c->io.writer.close();
    else
        c->io.writer.abort();
    c.reset();
    --m_open;
}

void host_pool::close() noexcept {
    m_closed = true;
    while (!m_idle.empty()) {
        std::unique_ptr<client_connection> c = std::move(m_idle.back());
        m_idle.pop_back();
        drop(std::move(c), true);
    }
    if (m_sweep.armed())
        m_sched.cancel_timer(m_sweep);
}

void host_pool::arm_sweep() noexcept {
    if (m_sweep.armed() || m_idle.empty())
        return;
    m_sched.arm_timer(m_sweep, m_idle.front()->idle_since + m_idle_timeout);
}

void host_pool::on_sweep(corio::detail::timer_node* n) noexcept {
    host_pool& p = *static_cast<sweep_timer*>(n)->pool;
    const auto now = p.m_sched.time();
    // The oldest are at the front; they expire first.
    std::size_t expired = 0;
    while (expired < p.m_idle.size() && now - p.m_idle[expired]->idle_since >= p.m_idle_timeout)
        ++expired;
    for (std::size_t i = 0; i < expired; ++i)
        p.drop(std::move(p.m_idle[i]), true);
    p.m_idle.erase(p.m_idle.begin(), p.m_idle.begin() + static_cast<std::ptrdiff_t>(expired));
    p.arm_sweep();
}

std::shared_ptr<host_pool> client_state::pool_for(const url& u) {
    std::string key = u.origin();
    auto it = pools.find(key);
    if (it != pools.end())
        return it->second;
    scheduler& s = *corio::detail::this_task("corio::http::client").m_sched;
    tls::context ctx;
    if (u.is_https()) {
        if (!options.tls)
            options.tls = tls::context::client();
        ctx = options.tls;
    }
    auto p =
        std::make_shared<host_pool>(u.scheme(), u.host(), u.port(), options, s, std::move(ctx));
    pools.emplace(std::move(key), p);
    return p;
}

void client_state::close() noexcept {
    for (auto& [origin, p] : pools)
        p->close();
    pools.clear();
}

} // namespace corio::http::detail

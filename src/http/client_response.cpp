// http::client_response: reading bodies (Content-Length, chunked, until close) from a leased
// connection, and giving the connection back once they are read.

#include "corio/http/client_response.hpp"

#include "corio/http/parse_error.hpp"
#include "corio/http/status_error.hpp"
#include "corio/time/timeout.hpp"

#include "http/client_pool.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace corio::http {

namespace detail {

client_body::~client_body() {
    // Reusable only when every byte of this response was consumed and nothing else came after
    // it (bytes past the body would be read as the next response's).
    const bool clean =
        m_finished && m_keep_alive && m_lease.conn && m_lease.conn->buffered().empty();
    m_lease.release(clean);
}

task<std::string_view> client_body::next_piece() {
    client_connection& c = *m_lease.conn;
    switch (m_kind) {
    case body_kind::none:
        m_finished = true;
        co_return std::string_view();
    case body_kind::content_length: {
        if (m_left == 0) {
            m_finished = true;
            co_return std::string_view();
        }
        if (c.buffered().empty() && co_await c.fill() == 0)
            throw parse_error(502, "corio::http: the connection closed with " +
                                       std::to_string(m_left) + " bytes of the body missing");
        const std::string_view in = c.buffered();
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(m_left, in.size()));
        c.consume(n);
        m_left -= n;
        // The connection is handed back only at the next call (or the destruction), once the
        // caller is done with this view of its buffer.
        m_finished = m_left == 0;
        co_return in.substr(0, n);
    }
    case body_kind::chunked:
        for (;;) {
            const std::string_view in = c.buffered();
            if (!in.empty()) {
                const chunked_decoder::step s = m_chunks.decode(in);
                c.consume(s.consumed);
                if (s.done)
                    m_finished = true;
                if (!s.data.empty() || s.done)
                    co_return s.data;
                if (s.consumed > 0)
                    continue;
            }
            if (co_await c.fill() == 0)
                throw parse_error(502, "corio::http: the connection closed in the middle of a "
                                       "chunked body");
        }
    case body_kind::until_close: {
        if (c.buffered().empty() && co_await c.fill() == 0) {
            m_finished = true;
            m_keep_alive = false;
            co_return std::string_view();
        }
        const std::string_view in = c.buffered();
        c.consume(in.size());
        co_return in;
    }
    }
    co_return std::string_view();
}

void client_response_access::fill(client_response& r, int status, std::string reason,
                                  int version_minor, http::headers h, http::url u,
                                  std::uint64_t max_body, std::unique_ptr<client_body> body) {
    r.m_status = status;
    r.m_reason = std::move(reason);
    r.m_version_minor = version_minor;
    r.m_headers = std::move(h);
    r.m_url = std::move(u);
    r.m_max_body = max_body;
    r.m_stream = std::move(body);
}

void client_response_access::finish(client_response& r, int redirects,
                                    std::optional<scheduler::time_point> deadline) noexcept {
    r.m_redirects = redirects;
    r.m_deadline = deadline;
}

} // namespace detail

client_response::client_response() noexcept = default;
client_response::client_response(client_response&&) noexcept = default;
client_response& client_response::operator=(client_response&&) noexcept = default;
client_response::~client_response() = default;

bool client_response::body_complete() const noexcept {
    return m_pending.empty() && (!m_stream || m_stream->finished());
}

void client_response::raise_for_status() const {
    if (m_status < 400)
        return;
    std::string what = "corio::http: " + std::to_string(m_status);
    if (!m_reason.empty()) {
        what += ' ';
        what += m_reason;
    }
    what += " for ";
    what += m_url.str();
    throw status_error(m_status, m_url.str(), what);
}

task<std::string_view> client_response::read_some() {
    return read_piece(SIZE_MAX);
}

namespace {

[[noreturn]] void throw_over_max_body(std::uint64_t max_body) {
    throw parse_error(413, "corio::http: the response body is larger than max_body (" +
                               std::to_string(max_body) + " bytes)");
}

[[noreturn]] void throw_broken() {
    throw std::logic_error("corio::http: the response's body cannot be read after a failed or "
                           "cancelled read");
}

} // namespace

task<std::string_view> client_response::read_piece(std::size_t max) {
    if (m_broken)
        throw_broken();
    if (!m_pending.empty()) {
        const std::string_view piece = m_pending.substr(0, max);
        m_pending.remove_prefix(piece.size());
        co_return piece;
    }
    if (!m_stream)
        co_return std::string_view();
    if (m_stream->finished()) {
        m_stream.reset(); // the connection goes back to the pool
        co_return std::string_view();
    }
    std::string_view piece;
    try {
        if (m_deadline) {
            auto t = m_stream->next_piece();
            piece = co_await corio::timeout_at(*m_deadline, std::move(t));
        } else {
            piece = co_await m_stream->next_piece();
        }
    } catch (...) {
        m_broken = true;
        m_stream.reset(); // half-read: closed, never pooled
        throw;
    }
    if (piece.empty()) {
        m_stream.reset();
    } else if (piece.size() > max) {
        // The rest stays where it is, in the connection's buffer, for the next read: nothing
        // refills that buffer before m_pending is empty.
        m_pending = piece.substr(max);
        piece = piece.substr(0, max);
    }
    co_return piece;
}

task<std::string> client_response::read_chunk(std::size_t max_size) {
    if (max_size == 0)
        co_return std::string();
    const std::string_view piece = co_await read_piece(max_size);
    co_return std::string(piece);
}

task<void> client_response::read_rest() {
    const std::uint64_t room = m_max_body > m_body.size() ? m_max_body - m_body.size() : 0;
    if (const detail::client_body* b = m_stream.get();
        b && b->kind() == body_kind::content_length) {
        // Known in advance: refuse before reading any of it (the connection is then closed).
        if (b->left() > room)
            throw_over_max_body(m_max_body);
        m_body.reserve(m_body.size() + static_cast<std::size_t>(b->left()));
    }
    for (;;) {
        const std::string_view piece = co_await m_stream->next_piece();
        if (piece.empty())
            co_return;
        if (piece.size() > m_max_body - m_body.size())
            throw_over_max_body(m_max_body);
        m_body.append(piece);
    }
}

task<const std::string&> client_response::read_all() {
    if (m_broken)
        throw_broken();
    try {
        if (m_pending.size() > m_max_body - std::min<std::uint64_t>(m_max_body, m_body.size()))
            throw_over_max_body(m_max_body);
        m_body.append(m_pending);
        m_pending = {};
        if (m_stream) {
            if (m_deadline) {
                auto t = read_rest();
                co_await corio::timeout_at(*m_deadline, std::move(t));
            } else {
                co_await read_rest();
            }
        }
    } catch (...) {
        m_broken = true;
        m_pending = {};
        m_stream.reset();
        throw;
    }
    m_stream.reset();
    co_return m_body;
}

} // namespace corio::http

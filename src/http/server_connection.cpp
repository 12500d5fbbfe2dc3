// One HTTP server connection: read, parse, dispatch, respond, in order (see server.cpp).
#include "server_connection.hpp"

#include "corio/core/cancelled_error.hpp"
#include "corio/core/current_task.hpp"
#include "corio/http/parse_error.hpp"
#include "corio/http/parser.hpp"

#include <charconv>
#include <cstring>
#include <system_error>

namespace corio::http::detail {

namespace {

void append_number(std::string& out, std::uint64_t v) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
    (void)ec;
    out.append(digits, static_cast<std::size_t>(end - digits));
}

bool status_has_no_body(int status) noexcept {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

std::int64_t to_ns(scheduler::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

scheduler::time_point from_ns(std::int64_t ns) noexcept {
    return scheduler::time_point(
        std::chrono::duration_cast<scheduler::duration>(std::chrono::nanoseconds(ns)));
}

} // namespace

connection::connection(loop_server& ls, stream_reader r, stream_writer w)
    : m_ls(ls), m_cfg(ls.config()), m_buffers(thread_buffers::get()), m_r(std::move(r)),
      m_w(std::move(w)), m_task(corio::detail::current_task_header()) {
    m_fire = &on_fire;
    try {
        request_access::set_peer(m_req, m_w.peer_endpoint());
    } catch (...) { // not an IP transport, or the peer has gone: no endpoint
    }
    m_ls.add(*this);
}

connection::~connection() {
    if (armed())
        m_ls.loop().cancel_timer(*this);
    release_buffers();
    m_ls.remove(*this);
}

void connection::release_buffers() noexcept {
    if (m_in_borrowed)
        m_buffers.give(std::move(m_in));
    m_in = std::string();
    m_in_borrowed = false;
    m_in_pos = 0;
    if (m_out_borrowed)
        m_buffers.give(std::move(m_out));
    m_out = std::string();
    m_out_borrowed = false;
}

void connection::borrow_out() {
    if (!m_out_borrowed) {
        std::string s = m_buffers.take();
        s.append(m_out); // whatever was written before (usually nothing)
        m_out = std::move(s);
        m_out_borrowed = true;
    }
}

void connection::set_deadline(scheduler::time_point when) noexcept {
    m_deadline = to_ns(when);
    if (!armed() || m_deadline < m_armed_at) {
        m_armed_at = m_deadline;
        try {
            m_ls.loop().arm_timer(*this, when);
        } catch (...) { // std::bad_alloc growing the timer heap: no deadline then
            m_armed_at = no_deadline;
        }
    }
}

void connection::on_fire(timer_node* n) noexcept {
    auto* c = static_cast<connection*>(n);
    c->m_armed_at = no_deadline;
    if (c->m_deadline == no_deadline)
        return; // the wait it was armed for is over; the next wait arms it again
    const std::int64_t now = to_ns(c->m_ls.loop().time());
    if (now < c->m_deadline) {
        c->m_armed_at = c->m_deadline;
        try {
            c->m_ls.loop().arm_timer(*c, from_ns(c->m_deadline));
        } catch (...) {
            c->m_armed_at = no_deadline;
        }
        return;
    }
    c->m_timed_out_in_head = c->m_phase == phase::head || c->m_phase == phase::body;
    c->stop(stop_reason::timeout);
}

void connection::stop(stop_reason why) noexcept {
    if (m_stop != stop_reason::none && why != stop_reason::abort)
        return;
    m_stop = why;
    if (why == stop_reason::abort)
        m_w.abort();
    if (m_task)
        m_task->cancel();
}

void connection::on_timeout() noexcept {
    if (!m_timed_out_in_head)
        return;
    try {
        borrow_out();
        write_error(408, "the request did not arrive in time");
        flush_nowait();
    } catch (...) {
    }
}

void connection::flush_nowait() {
    if (m_out.empty())
        return;
    m_w.write_nowait(std::string_view(m_out));
    m_out.clear();
}

task<void> connection::flush() {
    flush_nowait();
    if (m_w.write_buffer_size() != 0)
        co_await m_w.drain();
}

task<bool> connection::read_more() {
    // Responses go out before waiting for the client (it may be waiting for them).
    if (!m_out.empty()) {
        task<void> f = flush();
        co_await std::move(f);
    }
    const server_options& o = m_cfg.options;
    std::span<std::byte> scratch = m_buffers.scratch();
    for (;;) {
        std::optional<std::size_t> n = m_r.try_read(scratch);
        if (n) {
            clear_deadline();
            if (*n == 0)
                co_return false;
            if (!m_in_borrowed) {
                m_in = m_buffers.take();
                m_in_borrowed = true;
            }
            const char* old = m_in.data();
            m_in.append(reinterpret_cast<const char*>(scratch.data()), *n);
            if (m_in.data() != old && m_phase == phase::body)
                rebase(old);
            co_return true;
        }
        // Nothing available: wait, with the deadline of the phase.
        const scheduler::time_point now = m_ls.loop().time();
        switch (m_phase) {
        case phase::idle:
            set_deadline(now + (m_first_request ? o.header_timeout : o.keep_alive_timeout));
            break;
        case phase::head:
            set_deadline(from_ns(m_head_started) + o.header_timeout);
            break;
        case phase::body:
        case phase::busy:
            set_deadline(now + o.body_timeout);
            break;
        }
        co_await m_r.wait_readable();
    }
}

void connection::rebase(const char* old_data) noexcept {
    const char* old_end = old_data + m_in.size();
    const char* base = m_in.data();
    auto move = [&](std::string_view& v) {
        if (v.data() >= old_data && v.data() <= old_end)
            v = std::string_view(base + (v.data() - old_data), v.size());
    };
    request_head& h = request_access::head(m_req);
    move(h.method);
    move(h.target);
    for (header_view& f : h.headers) {
        move(f.name);
        move(f.value);
    }
    request_access::split_target(m_req);
}

void connection::write_error(int status, std::string_view what) {
    m_out.append("HTTP/1.1 ");
    append_number(m_out, static_cast<std::uint64_t>(status));
    m_out.push_back(' ');
    m_out.append(reason_phrase(status));
    m_out.append("\r\n");
    if (!m_cfg.options.server_header.empty()) {
        m_out.append("Server: ");
        m_out.append(m_cfg.options.server_header);
        m_out.append("\r\n");
    }
    m_out.append(m_buffers.date_line());
    m_out.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    append_number(m_out, what.size() + 1);
    m_out.append("\r\nConnection: close\r\n\r\n");
    m_out.append(what);
    m_out.push_back('\n');
}

void connection::write_head(const response& r, bool head_request, bool keep_alive, bool chunked,
                            std::size_t content_length) {
    const int status = r.status;
    std::string& out = m_out;
    if (status == 200 && r.reason.empty()) {
        out.append("HTTP/1.1 200 OK\r\n");
    } else {
        out.append("HTTP/1.1 ");
        const int s = status >= 100 && status <= 999 ? status : 500;
        append_number(out, static_cast<std::uint64_t>(s));
        out.push_back(' ');
        out.append(r.reason.empty() ? reason_phrase(s) : std::string_view(r.reason));
        out.append("\r\n");
    }
    if (!m_cfg.options.server_header.empty()) {
        out.append("Server: ");
        out.append(m_cfg.options.server_header);
        out.append("\r\n");
    }
    out.append(m_buffers.date_line());
    const std::string_view type = r.content_type();
    if (!type.empty() && !r.headers.contains("Content-Type")) {
        out.append("Content-Type: ");
        out.append(type);
        out.append("\r\n");
    }
    for (const auto& [name, value] : r.headers) {
        // The server owns the framing headers.
        if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
            iequals(name, "Connection"))
            continue;
        out.append(name);
        out.append(": ");
        out.append(value);
        out.append("\r\n");
    }
    if (chunked) {
        out.append("Transfer-Encoding: chunked\r\n");
    } else if (!(status >= 100 && status < 200) && status != 204 && !r.body_fn) {
        out.append("Content-Length: ");
        append_number(out, content_length);
        out.append("\r\n");
    }
    if (!keep_alive)
        out.append("Connection: close\r\n");
    else if (m_req.version_minor() == 0)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
    (void)head_request;
}

task<bool> connection::read_body() {
    request_head& h = request_access::head(m_req);
    std::string& body = request_access::body(m_req);
    if (h.body == body_kind::none)
        co_return true;
    bool continue_sent = false;
    auto maybe_continue = [&] {
        if (h.expect_continue && !continue_sent && m_in_pos == m_in.size() &&
            h.version_minor >= 1) {
            continue_sent = true;
            m_out.append("HTTP/1.1 100 Continue\r\n\r\n");
        }
    };
    m_phase = phase::body;
    if (h.body == body_kind::content_length) {
        const std::uint64_t need = h.content_length;
        while (m_in.size() - m_in_pos < need) {
            maybe_continue();
            task<bool> more = read_more();
            if (!co_await std::move(more))
                co_return false;
        }
        body.assign(m_in, m_in_pos, need);
        m_in_pos += need;
        co_return true;
    }
    chunked_decoder dec(m_cfg.options.limits);
    for (;;) {
        const std::string_view avail(m_in.data() + m_in_pos, m_in.size() - m_in_pos);
        chunked_decoder::step s = dec.decode(avail);
        m_in_pos += s.consumed;
        body.append(s.data);
        if (s.done)
            co_return true;
        if (s.consumed == 0) {
            maybe_continue();
            task<bool> more = read_more();
            if (!co_await std::move(more))
                co_return false;
        }
    }
}

task<void> connection::run() {
    const server_options& o = m_cfg.options;
    const router& routes = m_cfg.routes;
    request_head& head = request_access::head(m_req);
    for (;;) {
        // A head: parse what is buffered; read more until one is whole.
        std::size_t used = 0;
        try {
            for (;;) {
                if (m_in_pos < m_in.size()) {
                    used = parse_request_head(
                        std::string_view(m_in.data() + m_in_pos, m_in.size() - m_in_pos), head,
                        o.limits);
                    if (used != 0)
                        break;
                    // A partial head: keep only it, at the start of the buffer.
                    if (m_in_pos != 0) {
                        m_in.erase(0, m_in_pos);
                        m_in_pos = 0;
                    }
                    if (m_phase == phase::idle) {
                        m_phase = phase::head;
                        m_head_started = to_ns(m_ls.loop().time());
                    }
                } else {
                    // Everything is consumed: the responses go out, and the buffers go back to
                    // the pool while the connection is idle.
                    if (!m_out.empty()) {
                        task<void> f = flush();
                        co_await std::move(f);
                    }
                    release_buffers();
                    if (m_ls.shutting_down())
                        co_return;
                    m_phase = phase::idle;
                }
                task<bool> more = read_more();
                if (!co_await std::move(more)) {
                    flush_nowait();
                    co_return; // the client closed (a partial head is dropped)
                }
            }
        } catch (const parse_error& e) {
            write_error(e.status(), e.what());
            flush_nowait();
            m_w.close();
            co_return;
        }

        // The request.
        m_phase = phase::busy;
        m_first_request = false;
        request_access::reset(m_req);
        request_access::split_target(m_req);
        m_in_pos += used;
        try {
            task<bool> b = read_body();
            if (!co_await std::move(b)) {
                flush_nowait();
                co_return; // the client closed in the middle of the body
            }
        } catch (const parse_error& e) {
            write_error(e.status(), e.what());
            flush_nowait();
            m_w.close();
            co_return;
        }
        m_phase = phase::busy;
        clear_deadline();

        const bool head_request = m_req.method() == "HEAD";
        response resp;
        router::match_result m = routes.match(m_req);
        if (m.target) {
            try {
                task<response> t = (*m.target)(m_req);
                resp = co_await std::move(t);
            } catch (const cancelled_error&) {
                throw;
            } catch (...) {
                std::string msg = "corio::http::server: exception in the handler of ";
                msg.append(m_req.method());
                msg.push_back(' ');
                msg.append(m_req.path());
                m_ls.report(std::move(msg), std::current_exception());
                resp = response::text(500, "500 Internal Server Error\n");
            }
        } else if (m.status == 405) {
            resp = response::text(405, "405 Method Not Allowed\n");
            resp.headers.add("Allow", std::move(m.allow));
        } else {
            resp = response::text(404, "404 Not Found\n");
        }

        bool keep_alive = m_req.keep_alive() && !m_ls.shutting_down();
        if (keep_alive) {
            if (auto c = resp.headers.get("Connection"); c && iequals(*c, "close"))
                keep_alive = false;
        }
        borrow_out();
        m_ls.count_request();
        if (resp.body_fn) {
            const bool chunked = m_req.version_minor() >= 1;
            if (!chunked)
                keep_alive = false; // HTTP/1.0: the end of the connection ends the body
            const bool with_body = !head_request && !status_has_no_body(resp.status);
            write_head(resp, head_request, keep_alive, chunked && with_body, 0);
            task<void> f = flush();
            co_await std::move(f);
            if (with_body) {
                body_writer bw(m_w, chunked);
                try {
                    task<void> s = resp.body_fn(bw);
                    co_await std::move(s);
                } catch (const cancelled_error&) {
                    throw;
                } catch (...) {
                    m_ls.report("corio::http::server: exception in a streamed body",
                                std::current_exception());
                    m_w.abort();
                    co_return;
                }
                bw.finish();
            }
        } else {
            const bool with_body = !status_has_no_body(resp.status);
            write_head(resp, head_request, keep_alive, false, with_body ? resp.body.size() : 0);
            if (with_body && !head_request)
                m_out.append(resp.body);
        }
        if (!keep_alive) {
            flush_nowait();
            m_w.close();
            co_return;
        }
        // The next request, if the same read brought one, is answered into the same m_out.
    }
}

task<void> connection_main(std::shared_ptr<loop_server> ls, stream_reader r, stream_writer w) {
    connection c(*ls, std::move(r), std::move(w));
    const std::size_t max = ls->config().options.max_connections;
    if (max != 0 && ls->connection_count() > max)
        co_return;
    if (ls->shutting_down())
        co_return;
    try {
        task<void> t = c.run();
        co_await std::move(t);
    } catch (const cancelled_error&) {
        switch (c.stopped()) {
        case connection::stop_reason::none:
            throw; // from outside (the loop is ending)
        case connection::stop_reason::timeout:
            c.on_timeout();
            break;
        case connection::stop_reason::shutdown:
        case connection::stop_reason::abort:
            break;
        }
        corio::detail::current_task_header()->uncancel();
    } catch (const std::system_error&) {
        // The client reset the connection: nothing to report.
    }
}

} // namespace corio::http::detail

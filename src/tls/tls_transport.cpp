#include "tls/tls_transport.hpp"

#include "corio/core/scheduler.hpp"
#include "corio/net/ip_address.hpp"
#include "corio/tls/tls_error.hpp"

#include "tls/openssl_util.hpp"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <new>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace corio::tls::detail {

namespace {

/// The BIO pair's buffers: ciphertext from the peer (bytes read from the lower transport and
/// not yet taken by OpenSSL), and ciphertext for the peer.
constexpr std::size_t in_size = 32 * 1024;
constexpr std::size_t out_size = 64 * 1024;
/// Plaintext per SSL_write: one record.
constexpr std::size_t max_chunk = 16 * 1024;
/// Room needed in the output buffer for one more record (payload + the largest overhead), so
/// that SSL_write never stops in the middle of a record.
constexpr std::size_t record_room = max_chunk + 1024;

bool is_ip_literal(const std::string& s) {
    return net::ip_address::try_parse(s).has_value();
}

} // namespace

// ------------------------------------------------------------------------------ set-up ---

tls_transport::tls_transport(context ctx, bool server_side, const std::string& server_name,
                             const std::optional<std::vector<std::string>>& alpn)
    : m_ctx(std::move(ctx)) {
    if (!m_ctx)
        throw std::invalid_argument("corio::tls: an empty context");
    if (m_ctx.is_server() != server_side)
        throw std::invalid_argument(server_side
                                        ? "corio::tls: a server connection needs a server context"
                                        : "corio::tls: a client connection needs a client context");
    const context::impl& ci = *m_ctx.get_impl();
    // The checks that can fail come first: nothing to free yet.
    const bool ip = !server_name.empty() && is_ip_literal(server_name);
    const bool check_name = !server_side && ci.verify && ci.check_hostname;
    if (check_name && server_name.empty())
        throw std::invalid_argument(
            "corio::tls: checking the server's name needs a server_hostname");
    if (alpn && server_side)
        throw std::invalid_argument("corio::tls: a server's ALPN protocols are set on its context");
    const std::string wire = alpn ? alpn_wire(*alpn) : std::string();

    ERR_clear_error();
    m_ssl = SSL_new(ci.ctx);
    if (!m_ssl)
        throw_openssl("cannot create a connection");
    // The sizes are those of the halves' write buffers: m_int's is what goes to the peer.
    if (BIO_new_bio_pair(&m_int, out_size, &m_net, in_size) != 1) {
        SSL_free(m_ssl);
        throw_openssl("cannot create the connection's buffers");
    }
    SSL_set_bio(m_ssl, m_int, m_int); // the SSL object owns m_int now
    try {
        if (server_side) {
            SSL_set_accept_state(m_ssl);
        } else {
            SSL_set_connect_state(m_ssl);
            if (!server_name.empty() && !ip &&
                SSL_set_tlsext_host_name(m_ssl, server_name.c_str()) != 1)
                throw_openssl("cannot set the server name (SNI) " + server_name);
            if (check_name) {
                X509_VERIFY_PARAM* param = SSL_get0_param(m_ssl);
                X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
                                  : X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), 0);
                if (ok != 1)
                    throw_openssl("cannot set the name to verify " + server_name);
            }
            // 0 is success here (OpenSSL's exception to its own rule).
            if (alpn &&
                SSL_set_alpn_protos(m_ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned int>(wire.size())) != 0)
                throw_openssl("cannot set the ALPN protocols");
        }
    } catch (...) {
        SSL_free(m_ssl);
        BIO_free(m_net);
        throw;
    }
}

tls_transport::~tls_transport() {
    if (!m_closed)
        shut(false);
    m_report.cancel();
    SSL_free(m_ssl); // frees m_int too
    if (m_net)
        BIO_free(m_net);
}

void tls_transport::set_lower(std::unique_ptr<transport> lower) noexcept {
    m_lower = std::move(lower);
    m_lower->set_events(this);
}

// ---------------------------------------------------------------------------- plumbing ---

bool tls_transport::out_pending() const noexcept {
    return BIO_ctrl_pending(m_net) > 0;
}

void tls_transport::pump_out() {
    // The contract: no try_write while a write wait is armed.
    if (m_lower_write_armed) {
        m_lower_write_armed = false;
        m_lower->cancel_wait_writable();
    }
    for (;;) {
        char* p = nullptr;
        const int n = BIO_nread0(m_net, &p);
        if (n <= 0)
            return;
        const std::int64_t r =
            m_lower->try_write(std::as_bytes(std::span(p, static_cast<std::size_t>(n))));
        if (r == transport::would_block)
            return;
        BIO_nread(m_net, &p, static_cast<int>(r));
    }
}

std::int64_t tls_transport::pump_in() {
    if (m_lower_eof)
        return 0;
    if (m_lower_read_armed) {
        m_lower_read_armed = false;
        m_lower->cancel_wait_readable();
    }
    char* p = nullptr;
    const int room = BIO_nwrite0(m_net, &p);
    if (room <= 0)
        return transport::would_block; // OpenSSL has a full buffer to take first
    const std::int64_t r =
        m_lower->try_read(std::as_writable_bytes(std::span(p, static_cast<std::size_t>(room))));
    if (r > 0)
        BIO_nwrite(m_net, &p, static_cast<int>(r));
    else if (r == 0)
        m_lower_eof = true;
    return r;
}

void tls_transport::update_waits() {
    if (m_closed || !m_lower)
        return;
    bool r = false;
    bool w = false;
    if (!m_error) {
        auto add = [&](need n) {
            if (n == need::lower_read)
                r = true;
            else if (n == need::lower_write)
                w = true;
        };
        if (m_hs)
            add(m_hs->m_need);
        if (m_want_read && !m_report_read)
            add(m_read_need);
        if (m_want_write && !m_report_write)
            add(m_write_need);
        if (out_pending())
            w = true; // flush on our own (a key update's answer, close_notify...)
    }
    if (r && !m_lower_read_armed) {
        m_lower->wait_readable();
        m_lower_read_armed = true;
    } else if (!r && m_lower_read_armed) {
        m_lower_read_armed = false;
        m_lower->cancel_wait_readable();
    }
    if (w && !m_lower_write_armed) {
        m_lower->wait_writable();
        m_lower_write_armed = true;
    } else if (!w && m_lower_write_armed) {
        m_lower_write_armed = false;
        m_lower->cancel_wait_writable();
    }
}

void tls_transport::update_waits_noexcept() noexcept {
    try {
        update_waits();
    } catch (...) {
        set_error(std::current_exception());
    }
}

void tls_transport::set_error(std::exception_ptr e) noexcept {
    if (!m_error)
        m_error = std::move(e);
}

void tls_transport::fail(std::exception_ptr e) {
    set_error(e);
    std::rethrow_exception(m_error);
}

// ------------------------------------------------------------------------- handshake ---

tls_transport::lower_wait::~lower_wait() {
    if (m_t.m_hs == this) {
        m_t.m_hs = nullptr;
        m_t.update_waits_noexcept();
    }
}

bool tls_transport::lower_wait::await_suspend(std::coroutine_handle<> h) {
    m_task = &corio::detail::this_task("tls handshake");
    if (m_task->m_must_cancel)
        return false;
    m_t.m_hs = this;
    try {
        m_t.update_waits();
    } catch (...) {
        m_t.m_hs = nullptr;
        throw;
    }
    m_task->suspend(*this, h);
    return true;
}

void tls_transport::lower_wait::on_cancel(corio::detail::wait_node* w,
                                          corio::detail::task_header& t) noexcept {
    auto* self = static_cast<lower_wait*>(w);
    if (self->m_t.m_hs == self) {
        self->m_t.m_hs = nullptr;
        self->m_t.update_waits_noexcept();
    }
    t.m_must_cancel = true;
    t.wake();
}

tls_transport::step tls_transport::handshake_step() {
    for (;;) {
        if (m_error)
            std::rethrow_exception(m_error);
        if (m_closed)
            throw tls_error("corio::tls: the connection was closed during the handshake");
        ERR_clear_error();
        const int r = SSL_do_handshake(m_ssl);
        const int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(m_ssl, r);
        try {
            pump_out(); // our flight, or the alert that tells the peer why we fail
        } catch (...) {
            if (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL)
                throw ssl_failure(m_ssl, "handshake");
            fail(std::current_exception());
        }
        switch (e) {
        case SSL_ERROR_NONE:
            m_handshaken = true;
            return step::done;
        case SSL_ERROR_WANT_READ: {
            const std::int64_t in = pump_in();
            if (in > 0)
                continue;
            if (in == transport::would_block)
                return step::want_read;
            throw tls_error("corio::tls: the peer closed the connection during the handshake");
        }
        case SSL_ERROR_WANT_WRITE:
            if (!out_pending())
                continue;
            return step::want_write;
        default:
            throw ssl_failure(m_ssl, "handshake");
        }
    }
}

task<void> tls_transport::handshake() {
    for (;;) {
        const step s = handshake_step();
        if (s == step::done)
            break;
        lower_wait w(*this, s == step::want_read ? need::lower_read : need::lower_write);
        co_await w;
    }
    // What is still in the output buffer goes out on its own (update_waits arms it).
    update_waits();
}

// ------------------------------------------------------------------------ read, write ---

std::int64_t tls_transport::try_read(std::span<std::byte> buf) {
    if (m_error)
        std::rethrow_exception(m_error);
    if (m_read_closed || buf.empty())
        return 0;
    std::size_t total = 0;
    while (total < buf.size()) {
        std::size_t got = 0;
        ERR_clear_error();
        const int r = SSL_read_ex(m_ssl, buf.data() + total, buf.size() - total, &got);
        const int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(m_ssl, r);
        if (out_pending()) {
            try {
                pump_out(); // a key update's answer, a renegotiation's flight
            } catch (...) {
                fail(std::current_exception());
            }
        }
        if (e == SSL_ERROR_NONE) {
            total += got;
            continue;
        }
        if (e == SSL_ERROR_WANT_READ) {
            std::int64_t in;
            try {
                in = pump_in();
            } catch (...) {
                fail(std::current_exception());
            }
            if (in > 0)
                continue;
            if (in == transport::would_block) {
                m_read_need = need::lower_read;
                break;
            }
            if (total > 0)
                break; // the bytes first; the next call reports the truncation
            fail(std::make_exception_ptr(
                tls_error("corio::tls: unexpected EOF (truncation): the peer closed the "
                          "connection without close_notify")));
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            if (!out_pending())
                continue;
            m_read_need = need::lower_write;
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            m_read_closed = true; // close_notify: a clean end of the stream
            break;
        }
        fail(std::make_exception_ptr(ssl_failure(m_ssl, "read")));
    }
    // pump_in/pump_out withdrew the lower waits they found armed (the transport contract);
    // arm again what the other direction, the flush or the handshake still needs.
    update_waits();
    if (total > 0)
        return static_cast<std::int64_t>(total);
    return m_read_closed ? 0 : transport::would_block;
}

std::int64_t tls_transport::try_write(std::span<const std::byte> buf) {
    if (m_error)
        std::rethrow_exception(m_error);
    if (m_closed)
        throw std::system_error(EPIPE, std::generic_category(), "corio::tls: write after close");
    std::size_t total = 0;
    try {
        pump_out();
    } catch (...) {
        fail(std::current_exception());
    }
    if (out_pending()) {
        m_write_need = need::lower_write;
        if (!m_lower_write_armed)
            update_waits();
        return transport::would_block;
    }
    // Everything encrypted before went out: those bytes count now (the stream retried with
    // them at the front of `buf`).
    assert(m_unreported <= buf.size());
    total = std::min(m_unreported, buf.size());
    m_unreported = 0;
    bool pumped_in = false;
    while (total < buf.size()) {
        // Encrypt while the output buffer has room for whole records, then send.
        std::size_t encrypted = 0;
        int e = SSL_ERROR_NONE;
        while (total + encrypted < buf.size() &&
               BIO_ctrl_get_write_guarantee(m_int) >= record_room) {
            const std::size_t chunk = std::min(buf.size() - total - encrypted, max_chunk);
            std::size_t wrote = 0;
            ERR_clear_error();
            const int r = SSL_write_ex(m_ssl, buf.data() + total + encrypted, chunk, &wrote);
            if (r != 1) {
                e = SSL_get_error(m_ssl, r);
                break;
            }
            encrypted += wrote;
        }
        try {
            pump_out();
        } catch (...) {
            fail(std::current_exception());
        }
        if (out_pending()) {
            // Counted once they are out (the next call).
            m_unreported = encrypted;
            m_write_need = need::lower_write;
            break;
        }
        total += encrypted;
        if (e == SSL_ERROR_NONE)
            continue;
        if (e == SSL_ERROR_WANT_WRITE)
            continue; // the buffer was emptied just now
        if (e == SSL_ERROR_WANT_READ) {
            // A renegotiation in progress: the peer's flight first.
            std::int64_t in;
            try {
                in = pump_in();
            } catch (...) {
                fail(std::current_exception());
            }
            if (in > 0) {
                pumped_in = true;
                continue;
            }
            if (in == transport::would_block) {
                m_write_need = need::lower_read;
                break;
            }
            fail(std::make_exception_ptr(
                tls_error("corio::tls: the peer closed the connection during a renegotiation")));
        }
        fail(std::make_exception_ptr(ssl_failure(m_ssl, "write")));
    }
    if (pumped_in && m_want_read) {
        // What came in may hold application data the parked read is waiting for.
        m_read_need = need::ready;
        report_soon(true, false);
    }
    // pump_in/pump_out withdrew the lower waits they found armed (the transport contract);
    // arm again what the other direction, the flush or the handshake still needs.
    update_waits();
    if (total > 0)
        return static_cast<std::int64_t>(total);
    return transport::would_block;
}

// ------------------------------------------------------------------------------ waits ---

void tls_transport::report_soon(bool read, bool write) {
    // A wait armed while its answer is already here reports from the ready queue, never from
    // inside wait_readable()/wait_writable() or try_write().
    m_report_read |= read;
    m_report_write |= write;
    if (m_report_scheduled)
        return;
    scheduler* s = scheduler::current();
    if (!s)
        throw std::logic_error("corio::tls: a stream used outside its loop");
    m_report = s->call_soon([this] {
        tls_transport* self = this; // the handle below may hold the last reference to us
        self->m_report = callback_handle();
        self->m_report_scheduled = false;
        const bool r = self->m_report_read && self->m_want_read;
        const bool w = self->m_report_write && self->m_want_write;
        self->m_report_read = self->m_report_write = false;
        if (r)
            self->m_want_read = false;
        if (w)
            self->m_want_write = false;
        self->update_waits_noexcept();
        if (r)
            self->m_events->on_readable();
        if (w && !self->m_closed)
            self->m_events->on_writable();
    });
    m_report_scheduled = true;
}

void tls_transport::wait_readable() {
    m_want_read = true;
    if (m_error || m_read_need == need::ready || m_lower_eof || SSL_pending(m_ssl) > 0 ||
        BIO_ctrl_pending(m_int) > 0) {
        report_soon(true, false);
        return;
    }
    update_waits();
}

void tls_transport::wait_writable() {
    m_want_write = true;
    if (m_error || m_write_need == need::ready) {
        report_soon(false, true);
        return;
    }
    update_waits();
}

void tls_transport::cancel_wait_readable() noexcept {
    m_want_read = false;
    m_report_read = false;
    update_waits_noexcept();
}

void tls_transport::cancel_wait_writable() noexcept {
    m_want_write = false;
    m_report_write = false;
    update_waits_noexcept();
}

void tls_transport::on_readable() noexcept {
    m_lower_read_armed = false;
    dispatch(need::lower_read);
}

void tls_transport::on_writable() noexcept {
    m_lower_write_armed = false;
    if (out_pending()) {
        try {
            pump_out();
        } catch (...) {
            set_error(std::current_exception());
        }
    }
    dispatch(need::lower_write);
}

void tls_transport::dispatch(need ready) noexcept {
    if (m_closed)
        return;
    const bool failed = static_cast<bool>(m_error);
    lower_wait* hs = nullptr;
    if (m_hs && (failed || m_hs->m_need == ready)) {
        hs = m_hs;
        m_hs = nullptr;
    }
    const bool wake_read = m_want_read && (failed || m_read_need == ready);
    const bool wake_write = m_want_write && (failed || m_write_need == ready);
    if (wake_read)
        m_want_read = false;
    if (wake_write)
        m_want_write = false;
    update_waits_noexcept();
    if (hs)
        hs->m_task->wake();
    // Last: the stream may close this transport from its callback.
    if (wake_read)
        m_events->on_readable();
    if (wake_write && !m_closed)
        m_events->on_writable();
}

// ---------------------------------------------------------------------------- closing ---

void tls_transport::shut(bool abort) noexcept {
    if (m_closed)
        return;
    m_closed = true;
    m_want_read = m_want_write = false;
    m_report_read = m_report_write = false;
    m_report.cancel();
    m_report_scheduled = false;
    if (lower_wait* hs = m_hs) {
        // The handshake step sees m_closed and fails.
        m_hs = nullptr;
        if (hs->m_task)
            hs->m_task->wake();
    }
    if (!m_lower)
        return;
    if (!abort && m_handshaken && !m_error) {
        // close_notify, sent if the lower transport takes it now (bounded: a peer that does not
        // read does not hold the close).
        ERR_clear_error();
        SSL_shutdown(m_ssl);
        try {
            pump_out();
        } catch (...) {
        }
        ERR_clear_error();
    }
    m_lower_read_armed = m_lower_write_armed = false;
    if (abort)
        m_lower->abort();
    else
        m_lower->close();
}

void tls_transport::close() noexcept {
    shut(false);
}

void tls_transport::abort() noexcept {
    shut(true);
}

net::socket* tls_transport::socket() noexcept {
    return m_lower ? m_lower->socket() : nullptr;
}

net::socket_address tls_transport::local_address() const {
    return m_lower ? m_lower->local_address() : net::socket_address();
}

net::socket_address tls_transport::peer_address() const {
    return m_lower ? m_lower->peer_address() : net::socket_address();
}

// -------------------------------------------------------------------------- session ---

session_info tls_transport::info() const {
    session_info i;
    if (const char* v = SSL_get_version(m_ssl))
        i.version = v;
    if (const SSL_CIPHER* c = SSL_get_current_cipher(m_ssl))
        i.cipher = SSL_CIPHER_get_name(c);
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(m_ssl, &alpn, &alpn_len);
    if (alpn)
        i.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    if (const char* sn = SSL_get_servername(m_ssl, TLSEXT_NAMETYPE_host_name))
        i.server_name = sn;
    if (X509* peer = SSL_get1_peer_certificate(m_ssl)) {
        if (BIO* b = BIO_new(BIO_s_mem())) {
            X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
            char* data = nullptr;
            const long n = BIO_get_mem_data(b, &data);
            if (n > 0)
                i.peer_subject.assign(data, static_cast<std::size_t>(n));
            BIO_free(b);
        }
        X509_free(peer);
        i.peer_verified = SSL_get_verify_result(m_ssl) == X509_V_OK &&
                          (SSL_get_verify_mode(m_ssl) & SSL_VERIFY_PEER) != 0;
    }
    return i;
}

} // namespace corio::tls::detail

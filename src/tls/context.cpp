#include "corio/tls/context.hpp"

#include "tls/openssl_util.hpp"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace corio::tls {

namespace detail {

std::string drain_errors() {
    std::string out;
    char buf[256];
    while (const unsigned long e = ERR_get_error()) {
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty())
            out += "; ";
        out += buf;
    }
    return out;
}

namespace {

std::string first_reason() {
    const unsigned long e = ERR_peek_error();
    if (!e)
        return {};
    const char* r = ERR_reason_error_string(e);
    if (r)
        return r;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

} // namespace

void throw_openssl(std::string_view what) {
    std::string msg = "corio::tls: ";
    msg += what;
    const std::string reason = first_reason();
    if (!reason.empty()) {
        msg += ": ";
        msg += reason;
    }
    std::string queue = drain_errors();
    if (!queue.empty())
        msg += " [" + queue + "]";
    throw tls_error(msg, 0, std::move(queue));
}

tls_error ssl_failure(SSL* ssl, std::string_view during) {
    std::string msg = "corio::tls: ";
    std::string reason = first_reason();
    long verify = 0;
    const unsigned long first = ERR_peek_error();
    if (ssl && first && ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED)
        verify = SSL_get_verify_result(ssl);
    if (reason.empty())
        reason = std::string(during) + " failed";
    msg += reason;
    if (verify != 0 && verify != X509_V_OK) {
        msg += ": ";
        msg += X509_verify_cert_error_string(verify);
    }
    std::string queue = drain_errors();
    if (!queue.empty())
        msg += " [" + queue + "]";
    return tls_error(msg, verify, std::move(queue));
}

std::string alpn_wire(const std::vector<std::string>& protocols) {
    std::string wire;
    for (const std::string& p : protocols) {
        if (p.empty() || p.size() > 255)
            throw std::invalid_argument(
                "corio::tls: an ALPN protocol name must have 1 to 255 bytes");
        wire += static_cast<char>(p.size());
        wire += p;
    }
    return wire;
}

} // namespace detail

namespace {

using detail::throw_openssl;

/// The server's ALPN choice: the first of its own list that the client offers.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
    const auto* i = static_cast<const context::impl*>(arg);
    const std::string& mine = i->alpn_wire;
    for (std::size_t at = 0; at < mine.size();) {
        const auto len = static_cast<unsigned char>(mine[at]);
        for (unsigned int j = 0; j < inlen;) {
            const unsigned char l = in[j];
            if (j + 1 + l > inlen)
                break;
            if (l == len && std::memcmp(in + j + 1, mine.data() + at + 1, len) == 0) {
                *out = in + j + 1;
                *outlen = l;
                return SSL_TLSEXT_ERR_OK;
            }
            j += 1u + l;
        }
        at += 1u + len;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

std::shared_ptr<context::impl> make_impl(bool server) {
    SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        throw_openssl("cannot create a context");
    std::shared_ptr<context::impl> i;
    try {
        i = std::make_shared<context::impl>(ctx, server);
    } catch (...) {
        SSL_CTX_free(ctx);
        throw;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        throw_openssl("cannot set the protocol versions");
    // Partial writes and a moving buffer: the streams retry a write with the same bytes from
    // their own (moving) buffer, as the readiness contract says.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    if (server) {
        // OpenSSL 3 refuses client-initiated renegotiation by default.
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_alpn_select_cb(ctx, &select_alpn, i.get());
    } else {
        i->verify = true;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (SSL_CTX_set_default_verify_paths(ctx) != 1)
            throw_openssl("cannot load the system's CA store");
    }
    return i;
}

/// A memory BIO over `pem` (read-only, no copy).
struct mem_bio {
    explicit mem_bio(std::string_view pem)
        : b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))) {
        if (!b)
            throw std::bad_alloc();
    }
    mem_bio(const mem_bio&) = delete;
    mem_bio& operator=(const mem_bio&) = delete;
    ~mem_bio() { BIO_free(b); }
    BIO* b;
};

} // namespace

context::impl& context::need() const {
    if (!m_impl)
        throw std::invalid_argument("corio::tls::context: an empty context");
    return *m_impl;
}

context context::client() {
    return context(make_impl(false));
}

context context::server(const std::string& cert_chain_file, const std::string& key_file) {
    context c(make_impl(true));
    c.load_cert_chain(cert_chain_file, key_file);
    return c;
}

context context::server_from_pem(std::string_view cert_chain_pem, std::string_view key_pem) {
    context c(make_impl(true));
    c.load_cert_chain_pem(cert_chain_pem, key_pem);
    return c;
}

void context::load_cert_chain(const std::string& cert_chain_file, const std::string& key_file) {
    SSL_CTX* ctx = need().ctx;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_chain_file.c_str()) != 1)
        throw_openssl("cannot load the certificate chain " + cert_chain_file);
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        throw_openssl("cannot load the private key " + key_file);
    if (SSL_CTX_check_private_key(ctx) != 1)
        throw_openssl("the private key " + key_file + " does not match the certificate");
}

void context::load_cert_chain_pem(std::string_view cert_chain_pem, std::string_view key_pem) {
    SSL_CTX* ctx = need().ctx;
    ERR_clear_error();
    {
        mem_bio bio(cert_chain_pem);
        X509* leaf = PEM_read_bio_X509_AUX(bio.b, nullptr, nullptr, nullptr);
        if (!leaf)
            throw_openssl("cannot read the certificate (PEM)");
        const int ok = SSL_CTX_use_certificate(ctx, leaf);
        X509_free(leaf);
        if (ok != 1)
            throw_openssl("cannot use the certificate");
        SSL_CTX_clear_chain_certs(ctx);
        while (X509* ca = PEM_read_bio_X509(bio.b, nullptr, nullptr, nullptr)) {
            if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
                X509_free(ca);
                throw_openssl("cannot add a chain certificate");
            }
        }
        ERR_clear_error(); // the end of the PEM text
    }
    mem_bio bio(key_pem);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.b, nullptr, nullptr, nullptr);
    if (!key)
        throw_openssl("cannot read the private key (PEM)");
    const int ok = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (ok != 1)
        throw_openssl("cannot use the private key");
    if (SSL_CTX_check_private_key(ctx) != 1)
        throw_openssl("the private key does not match the certificate");
}

void context::load_verify_file(const std::string& ca_file) {
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(need().ctx, ca_file.c_str(), nullptr) != 1)
        throw_openssl("cannot load the CA file " + ca_file);
}

void context::load_verify_dir(const std::string& ca_dir) {
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(need().ctx, nullptr, ca_dir.c_str()) != 1)
        throw_openssl("cannot load the CA directory " + ca_dir);
}

void context::load_verify_pem(std::string_view ca_pem) {
    X509_STORE* store = SSL_CTX_get_cert_store(need().ctx);
    ERR_clear_error();
    mem_bio bio(ca_pem);
    int added = 0;
    while (X509* ca = PEM_read_bio_X509(bio.b, nullptr, nullptr, nullptr)) {
        const int ok = X509_STORE_add_cert(store, ca);
        X509_free(ca);
        if (ok != 1)
            throw_openssl("cannot add a CA certificate");
        ++added;
    }
    if (added == 0)
        throw_openssl("no CA certificate in the PEM text");
    ERR_clear_error();
}

void context::set_verify(bool on) {
    impl& i = need();
    i.verify = on;
    int mode = SSL_VERIFY_NONE;
    if (on)
        mode = i.is_server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER;
    SSL_CTX_set_verify(i.ctx, mode, nullptr);
}

bool context::verify() const noexcept {
    return m_impl && m_impl->verify;
}

void context::set_check_hostname(bool on) noexcept {
    if (m_impl)
        m_impl->check_hostname = on;
}

bool context::check_hostname() const noexcept {
    return m_impl && m_impl->check_hostname;
}

void context::set_alpn(std::vector<std::string> protocols) {
    impl& i = need();
    std::string wire = detail::alpn_wire(protocols);
    if (!i.is_server) {
        // 0 is success here (OpenSSL's exception to its own rule).
        if (SSL_CTX_set_alpn_protos(i.ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned int>(wire.size())) != 0)
            throw_openssl("cannot set the ALPN protocols");
    }
    i.alpn = std::move(protocols);
    i.alpn_wire = std::move(wire);
}

const std::vector<std::string>& context::alpn() const noexcept {
    static const std::vector<std::string> none;
    return m_impl ? m_impl->alpn : none;
}

void context::set_max_version(version v) {
    if (SSL_CTX_set_max_proto_version(need().ctx,
                                      v == version::tls1_2 ? TLS1_2_VERSION : TLS1_3_VERSION) != 1)
        throw_openssl("cannot set the maximum protocol version");
}

bool context::is_server() const noexcept {
    return m_impl && m_impl->is_server;
}

void* context::native_handle() const noexcept {
    return m_impl ? m_impl->ctx : nullptr;
}

} // namespace corio::tls

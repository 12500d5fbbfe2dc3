#pragma once

// Certificates made at test time with OpenSSL's C API: a local CA, a server certificate for
// "localhost" (SAN DNS:localhost, IP:127.0.0.1), one for a wrong name, an expired one, and one
// from a CA nobody trusts. Generated once per process; also written as PEM files into a
// temporary directory for the openssl and curl binaries.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace corio::test {

struct pem_pair {
    std::string cert;
    std::string key;
};

struct test_pki {
    pem_pair ca;
    pem_pair server;     ///< localhost, 127.0.0.1; signed by ca
    pem_pair wrong_name; ///< wrong.example; signed by ca
    pem_pair expired;    ///< localhost, expired yesterday; signed by ca
    pem_pair untrusted;  ///< localhost, signed by a CA nobody trusts
    std::string dir;     ///< ca.pem, server.pem, server.key (and untrusted_ca.pem)
    std::string ca_file;
    std::string server_cert_file;
    std::string server_key_file;
};

namespace certs_detail {

struct key_ptr {
    EVP_PKEY* p = nullptr;
    ~key_ptr() { EVP_PKEY_free(p); }
};
struct x509_ptr {
    X509* p = nullptr;
    ~x509_ptr() { X509_free(p); }
};

inline void check(bool ok, const char* what) {
    if (!ok)
        throw std::runtime_error(std::string("test certificates: ") + what);
}

inline std::string pem_of(X509* c) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, c);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
}

inline std::string pem_of(EVP_PKEY* k) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr, "extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/// A certificate for `cn` (SANs `san`, or a CA when `san` is null) signed by issuer/issuer_key
/// (self-signed when null), valid from now + from_days to now + to_days.
inline pem_pair make_cert(const char* cn, const char* san, X509* issuer, EVP_PKEY* issuer_key,
                          x509_ptr& cert_out, key_ptr& key_out, long from_days = -1,
                          long to_days = 30) {
    static long serial = 1;
    key_out.p = EVP_EC_gen("P-256");
    check(key_out.p != nullptr, "key");
    cert_out.p = X509_new();
    X509* c = cert_out.p;
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
    X509_gmtime_adj(X509_getm_notBefore(c), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(c), to_days * 86400);
    X509_set_pubkey(c, key_out.p);
    X509_NAME* name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("corio tests"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    X509* iss = issuer ? issuer : c;
    X509_set_issuer_name(c, X509_get_subject_name(iss));
    if (san) {
        add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(c, iss, NID_key_usage, "critical,digitalSignature");
        add_ext(c, iss, NID_ext_key_usage, "serverAuth,clientAuth");
        add_ext(c, iss, NID_subject_alt_name, san);
    } else {
        add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(c, iss, NID_subject_key_identifier, "hash");
    }
    check(X509_sign(c, issuer_key ? issuer_key : key_out.p, EVP_sha256()) > 0, "sign");
    return {pem_of(c), pem_of(key_out.p)};
}

inline void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    check(static_cast<bool>(f), "write");
}

/// Removes the directory at exit.
struct dir_remover {
    std::string dir;
    ~dir_remover() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

inline test_pki make_pki() {
    test_pki p;
    x509_ptr ca;
    key_ptr ca_key;
    p.ca = make_cert("corio test CA", nullptr, nullptr, nullptr, ca, ca_key);
    {
        x509_ptr c;
        key_ptr k;
        p.server = make_cert("localhost", "DNS:localhost,IP:127.0.0.1", ca.p, ca_key.p, c, k);
    }
    {
        x509_ptr c;
        key_ptr k;
        p.wrong_name = make_cert("wrong.example", "DNS:wrong.example", ca.p, ca_key.p, c, k);
    }
    {
        x509_ptr c;
        key_ptr k;
        p.expired =
            make_cert("localhost", "DNS:localhost,IP:127.0.0.1", ca.p, ca_key.p, c, k, -30, -1);
    }
    {
        x509_ptr other;
        key_ptr other_key;
        make_cert("untrusted CA", nullptr, nullptr, nullptr, other, other_key);
        x509_ptr c;
        key_ptr k;
        p.untrusted =
            make_cert("localhost", "DNS:localhost,IP:127.0.0.1", other.p, other_key.p, c, k);
    }
    char tmpl[] = "/tmp/corio-tls-XXXXXX";
    check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    p.dir = tmpl;
    p.ca_file = p.dir + "/ca.pem";
    p.server_cert_file = p.dir + "/server.pem";
    p.server_key_file = p.dir + "/server.key";
    write_file(p.ca_file, p.ca.cert);
    write_file(p.server_cert_file, p.server.cert);
    write_file(p.server_key_file, p.server.key);
    return p;
}

} // namespace certs_detail

/// The process's test certificates (made at the first call).
inline const test_pki& pki() {
    static const test_pki p = certs_detail::make_pki();
    static const certs_detail::dir_remover remover{p.dir};
    return p;
}

} // namespace corio::test

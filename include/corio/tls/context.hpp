#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::tls {

/// A TLS protocol version (corio never negotiates below TLS 1.2).
enum class version {
    tls1_2,
    tls1_3,
};

/// The settings shared by TLS connections (asyncio's ssl.SSLContext): the role (client or
/// server), the certificates, the trust store, verification and ALPN. A context is a shared
/// handle: copies refer to the same settings, and a connection keeps what it uses alive. Change
/// a context before the connections that should see the change start; loop thread (or before
/// any connection) only.
///
/// Defaults (secure unless told otherwise):
/// - TLS 1.2 at least, TLS 1.3 at most; OpenSSL's default ciphers.
/// - client(): the peer certificate is verified against the system's CA store, and its name
///   against the host connected to (or client_options::server_hostname). Verification is off
///   only after set_verify(false).
/// - server(...): no client certificate is asked for (set_verify(true) asks for one and
///   requires it: mutual TLS, checked against load_verify_*). Client-initiated renegotiation
///   is refused.
///
/// Errors: tls_error naming the file and OpenSSL's reason when a certificate, key or CA cannot
/// be loaded; std::bad_alloc.
///
/// Example:
/// @code
/// auto client = corio::tls::context::client();          // system CAs, hostname checked
/// client.set_alpn({"http/1.1"});
/// auto server = corio::tls::context::server("chain.pem", "key.pem");
/// @endcode
class context {
  public:
    /// No context (operator bool is false); the factories below make one.
    context() noexcept = default;

    /// A client context that verifies the server against the system's CA store
    /// (SSL_CTX_set_default_verify_paths) and checks its name.
    [[nodiscard]] static context client();
    /// A server context with the certificate chain (PEM, leaf first) and the private key (PEM)
    /// in these files. Errors: tls_error (unreadable file, bad PEM, key not matching).
    [[nodiscard]] static context server(const std::string& cert_chain_file,
                                        const std::string& key_file);
    /// A server context with the certificate chain and key given as PEM text.
    [[nodiscard]] static context server_from_pem(std::string_view cert_chain_pem,
                                                 std::string_view key_pem);

    /// Replaces the certificate chain and key (a server's, or a client certificate for mutual
    /// TLS). Errors: tls_error.
    void load_cert_chain(const std::string& cert_chain_file, const std::string& key_file);
    /// As load_cert_chain, from PEM text.
    void load_cert_chain_pem(std::string_view cert_chain_pem, std::string_view key_pem);
    /// Trusts the CA certificates of a PEM file (asyncio's load_verify_locations(cafile)).
    void load_verify_file(const std::string& ca_file);
    /// Trusts the CA certificates of an OpenSSL hashed directory (load_verify_locations(capath)).
    void load_verify_dir(const std::string& ca_dir);
    /// Trusts the CA certificates given as PEM text (load_verify_locations(cadata)).
    void load_verify_pem(std::string_view ca_pem);

    /// Verifies the peer's certificate (and, for a client, its name) or not. A client's
    /// verification is on by default and turned off only here; a server's is off by default,
    /// and on means a client certificate is required.
    void set_verify(bool on);
    [[nodiscard]] bool verify() const noexcept;
    /// For a verifying client: checks the certificate's name against the server name (on by
    /// default; asyncio's check_hostname).
    void set_check_hostname(bool on) noexcept;
    [[nodiscard]] bool check_hostname() const noexcept;
    /// The ALPN protocols, most preferred first (e.g. {"h2", "http/1.1"}): a client offers them,
    /// a server picks the first of its list that the client offers (none if there is no
    /// overlap). Errors: std::invalid_argument for an empty or over-long (> 255) name.
    void set_alpn(std::vector<std::string> protocols);
    [[nodiscard]] const std::vector<std::string>& alpn() const noexcept;
    /// Caps the protocol version (TLS 1.3 by default); TLS 1.2 is always the floor.
    void set_max_version(version v);

    [[nodiscard]] bool is_server() const noexcept;
    [[nodiscard]] explicit operator bool() const noexcept { return m_impl != nullptr; }

    /// For corio's layers: the OpenSSL SSL_CTX (as void*, OpenSSL stays private).
    [[nodiscard]] void* native_handle() const noexcept;

    struct impl;
    /// For corio's layers.
    [[nodiscard]] const std::shared_ptr<impl>& get_impl() const noexcept { return m_impl; }

  private:
    explicit context(std::shared_ptr<impl> i) noexcept : m_impl(std::move(i)) {}
    impl& need() const;

    std::shared_ptr<impl> m_impl;
};

} // namespace corio::tls

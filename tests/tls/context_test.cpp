// tls::context: secure defaults, loading certificates and their errors, ALPN names, mutual TLS.

#include "corio/io/server.hpp"
#include "corio/tls/context.hpp"
#include "corio/tls/server.hpp"
#include "corio/tls/session_info.hpp"
#include "corio/tls/tls_error.hpp"

#include "support/loop_helpers.hpp"
#include "tls/tls_helpers.hpp"
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using namespace corio::test::tls_test_names;

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const tls::tls_error& e) {
        return e.what();
    }
    return "";
}

TEST(TlsContext, AClientVerifiesTheServerAndItsNameByDefault) {
    const tls::context c = tls::context::client();
    EXPECT_TRUE(c);
    EXPECT_FALSE(c.is_server());
    EXPECT_TRUE(c.verify());
    EXPECT_TRUE(c.check_hostname());
    EXPECT_NE(c.native_handle(), nullptr);
}

TEST(TlsContext, AServerAsksForNoClientCertificateByDefault) {
    const tls::context s = tls::context::server(pki().server_cert_file, pki().server_key_file);
    EXPECT_TRUE(s.is_server());
    EXPECT_FALSE(s.verify());
}

TEST(TlsContext, CopiesShareTheSettings) {
    tls::context a = tls::context::client();
    tls::context b = a;
    b.set_alpn({"h2", "http/1.1"});
    EXPECT_EQ(a.alpn(), (std::vector<std::string>{"h2", "http/1.1"}));
    EXPECT_EQ(a.native_handle(), b.native_handle());
}

TEST(TlsContext, AMissingFileIsNamedWithOpensslsReason) {
    const std::string e = error_of([] { (void)tls::context::server("/nonexistent.pem", "k"); });
    EXPECT_EQ(e.rfind("corio::tls: cannot load the certificate chain /nonexistent.pem: ", 0), 0u)
        << e;
    EXPECT_NE(e.find("[error:"), std::string::npos) << e;
}

TEST(TlsContext, AKeyThatDoesNotMatchIsRefused) {
    const std::string e = error_of(
        [] { (void)tls::context::server_from_pem(pki().server.cert, pki().wrong_name.key); });
    EXPECT_NE(e.find("key values mismatch"), std::string::npos) << e;
}

TEST(TlsContext, GarbageIsNotACertificate) {
    EXPECT_THROW((void)tls::context::server_from_pem("not a certificate", pki().server.key),
                 tls::tls_error);
    tls::context c = tls::context::client();
    EXPECT_THROW(c.load_verify_pem("nothing here"), tls::tls_error);
    EXPECT_THROW(c.load_verify_file("/nonexistent-ca.pem"), tls::tls_error);
    EXPECT_NO_THROW(c.load_verify_file(pki().ca_file));
}

TEST(TlsContext, AlpnNamesHaveOneTo255Bytes) {
    tls::context c = tls::context::client();
    EXPECT_THROW(c.set_alpn({""}), std::invalid_argument);
    EXPECT_THROW(c.set_alpn({std::string(256, 'a')}), std::invalid_argument);
    EXPECT_NO_THROW(c.set_alpn({std::string(255, 'a')}));
}

TEST(TlsContext, AnEmptyContextIsRefused) {
    tls::context none;
    EXPECT_FALSE(none);
    EXPECT_THROW(none.set_verify(false), std::invalid_argument);
    run_virtual([]() -> task<void> {
        task<streams> t = tls::open_connection("127.0.0.1", 1, tls::context());
        EXPECT_THROW((void)co_await t, std::invalid_argument);
    }());
}

TEST(TlsContext, MutualTlsRequiresAClientCertificate) {
    std::string subject;
    auto got = run_virtual([&]() -> task<std::string> {
        tls::context sctx = corio::test::server_context();
        sctx.set_verify(true); // a client certificate signed by the test CA is required
        sctx.load_verify_pem(pki().ca.cert);
        auto handler = [&](stream_reader r, stream_writer w) -> task<void> {
            subject = tls::get_session_info(w).peer_subject;
            co_await corio::test::echo_lines(std::move(r), std::move(w));
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, sctx);
        std::string out;
        // Without a certificate: refused (TLS 1.3 reports it at the first read).
        try {
            streams s = co_await corio::test::connect_tls(port_of(srv));
            co_await s.writer.write("x\n");
            (void)co_await s.reader.readline();
            out += "accepted without a certificate; ";
        } catch (const tls::tls_error& e) {
            out += "refused; ";
        }
        tls::context cctx = corio::test::client_context();
        cctx.load_cert_chain_pem(pki().server.cert, pki().server.key);
        streams s = co_await corio::test::connect_tls(port_of(srv), cctx);
        co_await s.writer.write("with a certificate\n");
        out += co_await s.reader.readline();
        s.writer.close();
        co_await s.writer.wait_closed();
        srv.close();
        co_await srv.wait_closed();
        co_return out;
    }());
    EXPECT_EQ(got, "refused; with a certificate\n");
    EXPECT_EQ(subject, "CN=localhost,O=corio tests");
}

} // namespace

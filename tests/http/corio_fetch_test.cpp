// tools/corio-fetch against corio's HTTP server, both driven from one event loop: the server runs
// in the test's loop while the tool runs as a child process whose output is collected with
// communicate(). The binary is found next to this test's build directory
// (<build>/tools/corio-fetch); a build without it skips these tests.

#include "corio/core/create_task.hpp"
#include "corio/http/server.hpp"
#include "corio/io/server.hpp"
#include "corio/process/process.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"
#include "corio/tls/context.hpp"
#include "corio/tls/server.hpp"

#include "tls/test_certs.hpp"
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace http = corio::http;

std::filesystem::path tool_path() {
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
    return self.parent_path().parent_path() / "tools" / "corio-fetch";
}

struct fetch_outcome {
    int status = -1;
    std::string out;
    std::string err;
};

struct server_stats {
    int in_flight = 0;
    int max_in_flight = 0;
    int counted = 0;
};

http::router test_routes(server_stats* stats) {
    http::router r;
    r.get("/hello", [](auto&) -> corio::task<http::response> {
        co_return http::response::text(200, "Hello, World!");
    });
    r.get("/redirect", [](auto&) -> corio::task<http::response> {
        http::response resp(302);
        resp.headers.add("Location", "/hello");
        co_return resp;
    });
    r.get("/slow", [](auto&) -> corio::task<http::response> {
        co_await corio::sleep(5s);
        co_return http::response::text(200, "late");
    });
    r.get("/files/*", [](auto& req) -> corio::task<http::response> {
        co_return http::response::text(200, "file " + std::string(req.param("*")));
    });
    r.get("/count", [stats](auto&) -> corio::task<http::response> {
        ++stats->in_flight;
        stats->max_in_flight = std::max(stats->max_in_flight, stats->in_flight);
        co_await corio::sleep(30ms);
        --stats->in_flight;
        ++stats->counted;
        co_return http::response::text(200, "counted");
    });
    return r;
}

// Starts the server, runs the tool with `args` (where "{base}" becomes the server's
// "http://127.0.0.1:port"), and collects its output.
corio::task<fetch_outcome> fetch_with_server(std::vector<std::string> args, server_stats* stats) {
    auto start = http::start_server(test_routes(stats), "127.0.0.1", 0);
    http::server srv = co_await std::move(start);
    const std::string base = "http://127.0.0.1:" + std::to_string(srv.port());
    for (std::string& a : args)
        for (auto at = a.find("{base}"); at != std::string::npos; at = a.find("{base}"))
            a.replace(at, 6, base);
    auto serving = corio::create_task(srv.serve_forever(), "server");
    corio::subprocess_options o;
    o.std_out = corio::stdio::pipe;
    o.std_err = corio::stdio::pipe;
    corio::process p = corio::create_subprocess_exec(tool_path().string(), args, o);
    auto talk = p.communicate();
    corio::communicate_result res = co_await std::move(talk);
    serving.cancel();
    try {
        co_await serving;
    } catch (const corio::cancelled_error&) {
    }
    co_return fetch_outcome{res.returncode, res.std_out, res.std_err};
}

fetch_outcome fetch(std::vector<std::string> args, server_stats* stats = nullptr) {
    server_stats none;
    corio::event_loop loop;
    return loop.run_until_complete(fetch_with_server(std::move(args), stats ? stats : &none));
}

/// One TLS connection of fetch_https's server: answers every request head with "secure".
corio::task<void> answer_securely(corio::stream_reader r, corio::stream_writer w) {
    try {
        for (;;) {
            const std::string head = co_await r.readuntil("\r\n\r\n");
            const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure";
            co_await w.write(reply);
        }
    } catch (const std::exception&) {
        // the client went away
    }
    w.close();
}

// As fetch_with_server, with a TLS server whose certificate the test CA signed; "{base}" becomes
// "https://127.0.0.1:port" and "{ca}" the test CA's PEM file.
corio::task<fetch_outcome> fetch_https_with_server(std::vector<std::string> args) {
    const corio::tls::context ctx = corio::tls::context::server_from_pem(
        corio::test::pki().server.cert, corio::test::pki().server.key);
    const corio::connection_handler handler = answer_securely;
    const std::string host = "127.0.0.1";
    auto starting = corio::tls::start_server(handler, host, 0, ctx);
    corio::server srv = co_await std::move(starting);
    const std::string base = "https://127.0.0.1:" + std::to_string(srv.endpoints().at(0).port());
    for (std::string& a : args) {
        for (auto at = a.find("{base}"); at != std::string::npos; at = a.find("{base}"))
            a.replace(at, 6, base);
        if (a == "{ca}")
            a = corio::test::pki().ca_file;
    }
    corio::subprocess_options o;
    o.std_out = corio::stdio::pipe;
    o.std_err = corio::stdio::pipe;
    corio::process p = corio::create_subprocess_exec(tool_path().string(), args, o);
    auto talk = p.communicate();
    corio::communicate_result res = co_await std::move(talk);
    srv.close();
    srv.abort_clients();
    co_await srv.wait_closed();
    co_return fetch_outcome{res.returncode, res.std_out, res.std_err};
}

fetch_outcome fetch_https(std::vector<std::string> args) {
    corio::event_loop loop;
    return loop.run_until_complete(fetch_https_with_server(std::move(args)));
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1)
        out.push_back(s.substr(start, nl - start));
    return out;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class CorioFetch : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(tool_path()))
            GTEST_SKIP() << tool_path() << " is not built";
        m_dir = std::filesystem::temp_directory_path() /
                ("corio-fetch-test-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(m_dir);
        std::filesystem::create_directories(m_dir);
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
    }
    std::filesystem::path m_dir;
};

TEST_F(CorioFetch, PrintsOneLinePerUrlWithStatusBytesTimeAndTheFinalUrl) {
    const fetch_outcome r = fetch({"{base}/hello", "{base}/redirect", "{base}/files/x.txt"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 3u) << r.out;
    int redirected = 0;
    for (const std::string& l : lines) {
        EXPECT_EQ(l.rfind("200", 0), 0u) << l;
        EXPECT_NE(l.find(" ms "), std::string::npos) << l;
        if (l.find("/redirect -> http://127.0.0.1:") != std::string::npos) {
            ++redirected;
            EXPECT_NE(l.find("/hello"), std::string::npos) << l;
            EXPECT_NE(l.find("13 B"), std::string::npos) << l;
        }
    }
    EXPECT_EQ(redirected, 1) << r.out;
    // Not a terminal: no progress line, no carriage return.
    EXPECT_EQ(r.out.find('\r'), std::string::npos);
    EXPECT_NE(r.err.find("3 URLs: 3 ok, 0 failed"), std::string::npos) << r.err;
}

TEST_F(CorioFetch, FetchesOverHttpsTrustingTheCaGivenWithCacert) {
    const fetch_outcome r = fetch_https({"{base}/a", "{base}/b", "--cacert", "{ca}"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    for (const std::string& l : lines) {
        EXPECT_EQ(l.rfind("200", 0), 0u) << l;
        EXPECT_NE(l.find("6 B"), std::string::npos) << l;
        EXPECT_NE(l.find("https://127.0.0.1:"), std::string::npos) << l;
    }
}

TEST_F(CorioFetch, RefusesAnHttpsServerItsCaStoreDoesNotTrust) {
    const fetch_outcome r = fetch_https({"{base}/a"});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("certificate verify failed"), std::string::npos) << r.out;
}

TEST_F(CorioFetch, ExitsWithOneWhenAUrlFailsOrAnswersWithAnErrorStatus) {
    const fetch_outcome r =
        fetch({"{base}/hello", "{base}/no-such-page", "http://127.0.0.1:1/refused"});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("404"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ERR"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("http://127.0.0.1:1/refused: "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("3 URLs: 1 ok, 2 failed"), std::string::npos) << r.err;
}

TEST_F(CorioFetch, TimeoutEndsASlowRequestWithAnError) {
    const fetch_outcome r = fetch({"--timeout", "0.3", "{base}/slow", "{base}/hello"});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                            [](auto& l) {
                                return l.rfind("ERR", 0) == 0 &&
                                       l.find("/slow") != std::string::npos;
                            }),
              1)
        << r.out;
}

TEST_F(CorioFetch, HeadersToWritesTheSeedsFormatOneBlockPerUrlInCommandLineOrder) {
    const auto file = m_dir / "headers.txt";
    const fetch_outcome r =
        fetch({"--headers-to", file.string(), "{base}/files/b", "{base}/hello"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const std::string h = slurp(file);
    const auto first = h.find("== http://127.0.0.1:");
    const auto files = h.find("/files/b -> 200 OK\n");
    const auto hello = h.find("/hello -> 200 OK\n");
    ASSERT_NE(files, std::string::npos) << h;
    ASSERT_NE(hello, std::string::npos) << h;
    EXPECT_EQ(first, 0u) << h;
    EXPECT_LT(files, hello) << h;
    // "key: value" lines, as the seed's f'{key}: {header}'.
    EXPECT_NE(h.find("\nContent-Length: 13\n"), std::string::npos) << h;
    EXPECT_NE(h.find("\nContent-Type: text/plain; charset=utf-8\n"), std::string::npos) << h;
}

TEST_F(CorioFetch, OutputSavesEveryBodyUnderASanitizedUniqueName) {
    const auto out = m_dir / "bodies";
    const fetch_outcome r =
        fetch({"--output", out.string(), "{base}/files/a.txt", "{base}/files/a.txt",
               "{base}/files/", "{base}/files/we%20ird", "{base}/files/..hidden"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(out))
        names.insert(e.path().filename().string());
    EXPECT_EQ(names,
              (std::set<std::string>{"a.txt", "a-1.txt", "index.html", "we_20ird", "hidden"}));
    EXPECT_EQ(slurp(out / "index.html"), "file ");
    EXPECT_EQ(slurp(out / "we_20ird"), "file we%20ird");
    EXPECT_EQ(slurp(out / "hidden"), "file ..hidden");
}

TEST_F(CorioFetch, ConcurrencyBoundsTheRequestsInFlight) {
    server_stats stats;
    std::vector<std::string> args{"--concurrency", "3"};
    for (int i = 0; i < 12; ++i)
        args.push_back("{base}/count");
    const fetch_outcome r = fetch(args, &stats);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(stats.counted, 12);
    EXPECT_LE(stats.max_in_flight, 3);
    EXPECT_GE(stats.max_in_flight, 2); // they did run concurrently
}

TEST_F(CorioFetch, BadArgumentsExitWithTwoAndAClearMessage) {
    struct bad_case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<bad_case> cases{
        {{}, "no URL given"},
        {{"--concurrency", "0", "http://x/"}, "--concurrency wants a whole number"},
        {{"--timeout", "soon", "http://x/"}, "--timeout wants seconds"},
        {{"ftp://example.com/"}, "ftp://example.com/"},
        {{"--frobnicate", "http://x/"}, "unknown option '--frobnicate'"},
        {{"http://x/", "--output"}, "--output needs a value"},
    };
    for (const bad_case& c : cases) {
        const fetch_outcome r = fetch(c.args);
        EXPECT_EQ(r.status, 2) << c.message;
        EXPECT_NE(r.err.find("corio-fetch: error: "), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
    const fetch_outcome help = fetch({"--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("usage: corio-fetch URL..."), std::string::npos) << help.out;
}

} // namespace

// A differential test of the HTTP/1.1 parser against python3-h11 (a strict reference): a table
// of tricky requests, each run through both parsers. Where they agree the table says so; where
// corio deliberately differs, the row gives both outcomes and the reason, and the test checks
// that each parser still does what the row says (so a change on either side shows up).
// Skipped when python3 or its h11 module is missing.

#include "corio/http/parser.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using corio::http::body_kind;
using corio::http::chunked_decoder;
using corio::http::parse_error;
using corio::http::parse_request_head;
using corio::http::request_head;
using namespace std::string_literals;

/// What a parser made of a complete message (head and body).
enum class outcome { accept, reject, incomplete };

const char* name(outcome o) {
    switch (o) {
    case outcome::accept:
        return "accept";
    case outcome::reject:
        return "reject";
    default:
        return "incomplete";
    }
}

struct row {
    std::string what;
    std::string bytes;
    outcome corio;
    outcome h11;     ///< the same as corio unless `why` says otherwise
    const char* why; ///< empty when both agree
};

constexpr outcome A = outcome::accept;
constexpr outcome R = outcome::reject;
constexpr outcome I = outcome::incomplete;

const std::string head = "POST / HTTP/1.1\r\nHost: a\r\n";
const std::string chunked = head + "Transfer-Encoding: chunked\r\n\r\n";

std::vector<row> table() {
    return {
        // Valid requests of each form.
        {"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", A, A, ""},
        {"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", A, A, ""},
        {"absolute-form", "GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n", A, A, ""},
        {"authority-form CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", A, A, ""},
        {"asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", A, A, ""},
        {"Content-Length body", head + "Content-Length: 5\r\n\r\nhello", A, A, ""},
        {"identical Content-Length twice",
         head + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", A, A, ""},
        {"Content-Length list of identical values", head + "Content-Length: 5, 5\r\n\r\nhello", A,
         A, ""},
        {"chunked body", chunked + "5\r\nhello\r\n0\r\n\r\n", A, A, ""},
        {"chunked with an extension", chunked + "5;a=b\r\nhello\r\n0\r\n\r\n", A, A, ""},
        {"chunked with trailers", chunked + "5\r\nhello\r\n0\r\nX: y\r\n\r\n", A, A, ""},
        {"Chunked in capitals", head + "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", A, A, ""},
        {"HTAB and obs-text in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\xe9\r\n\r\n", A, A,
         ""},
        {"Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", A, A, ""},
        {"Expect: 100-continue", head + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", A, A,
         ""},
        {"incomplete body", head + "Content-Length: 5\r\n\r\nhel", I, I, ""},
        // Smuggling shapes and malformed requests both reject.
        {"space before the colon", head + "Content-Length : 5\r\n\r\nhello", R, R, ""},
        {"bare CR (CVE-2023-30589)", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", R, R, ""},
        {"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, R, R, ""},
        {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", R, R, ""},
        {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", R, R, ""},
        {"differing Content-Lengths", head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
         R, R, ""},
        {"signed Content-Length", head + "Content-Length: +5\r\n\r\nhello", R, R, ""},
        {"empty Content-Length", head + "Content-Length:\r\n\r\n", R, R, ""},
        {"gzip alone", head + "Transfer-Encoding: gzip\r\n\r\n", R, R, ""},
        {"gzip then chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", R, R, ""},
        {"chunked twice in one field", head + "Transfer-Encoding: chunked, chunked\r\n\r\n", R, R,
         ""},
        {"chunked in two fields",
         head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", R, R,
         ""},
        {"method not a token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", R, R, ""},
        {"two SPs in the request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", R, R, ""},
        {"lower-case http", "GET / http/1.1\r\nHost: a\r\n\r\n", R, R, ""},
        {"space in the target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", R, R, ""},
        {"obs-text in the target", "GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", R, R, ""},
        {"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", R, R, ""},
        {"chunk size not hex", chunked + "5g\r\nhello\r\n0\r\n\r\n", R, R, ""},
        {"chunk size 0x5", chunked + "0x5\r\nhello\r\n0\r\n\r\n", R, R, ""},
        {"chunk data without CRLF", chunked + "5\r\nhelloXX0\r\n\r\n", R, R, ""},
        {"bare LF after a chunk size", chunked + "5\nhello\r\n0\r\n\r\n", R, R, ""},
        {"space before the colon in a trailer", chunked + "0\r\nX : y\r\n\r\n", R, R, ""},
        // Deliberate differences.
        {"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", R, A,
         "corio accepts CRLF only (a parser that splits lines unlike the proxy in front of it "
         "is a smuggling vector); h11 takes a bare LF as RFC 9112 §2.2 allows"},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", R, A,
         "RFC 9112 §5.2 lets a server reject obs-fold with 400; h11 unfolds it"},
        {"obs-fold in a trailer", chunked + "0\r\nX: a\r\n b\r\n\r\n", R, A,
         "trailers follow the header field rules"},
        {"DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", R, A,
         "a field value is VCHAR / obs-text / SP / HTAB; h11 lets through CTLs but NUL and "
         "whitespace"},
        {"CTL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", R, A,
         "as DEL; h11 allows them for real-world cookies (h11 issue 57)"},
        {"Transfer-Encoding with Content-Length",
         head + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", R, A,
         "the classic smuggling shape: RFC 9112 §6.1 lets a server reject it, and corio does; "
         "h11 lets chunked win"},
        {"Transfer-Encoding in HTTP/1.0",
         "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", R, A,
         "RFC 9112 §6.1: the framing of such a message is faulty"},
        {"HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", R, A,
         "505: corio speaks HTTP/1.0 and 1.1 only; h11 takes any HTTP/x.y"},
        {"HTTP/1.2 request line", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", R, A, "505 as above"},
        {"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", R, A,
         "RFC 9112 §3.2.4: asterisk-form is for OPTIONS only; h11 takes any VCHAR target"},
        {"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", R, A,
         "not one of the four request-target forms"},
        {"space in Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", R, A,
         "a Host value is a uri-host [ \":\" port ]"},
        {"space after a chunk size", chunked + "5 \r\nhello\r\n0\r\n\r\n", R, A,
         "RFC 9112 §7.1 allows BWS only before a chunk extension; h11 is lenient for servers in "
         "the wild"},
        {"CTL in a chunk extension", chunked + "5;\x01\r\nhello\r\n0\r\n\r\n", R, A,
         "corio parses chunk-ext as token [= token / quoted-string]; h11 skips anything"},
        {"chunk size over 64 bits", chunked + "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n", R, I,
         "corio rejects the overflow at once; h11 waits for 2^76 bytes"},
        {"empty lines before the request line", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", A, R,
         "RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request"},
    };
}

/// What corio makes of `bytes`: the head, then the body it announces.
outcome corio_outcome(std::string_view bytes) {
    try {
        request_head h;
        const std::size_t n = parse_request_head(bytes, h);
        if (n == 0)
            return outcome::incomplete;
        std::string_view rest = bytes.substr(n);
        switch (h.body) {
        case body_kind::none:
            return outcome::accept;
        case body_kind::content_length:
            return rest.size() >= h.content_length ? outcome::accept : outcome::incomplete;
        case body_kind::chunked: {
            chunked_decoder d;
            for (;;) {
                const auto s = d.decode(rest);
                rest.remove_prefix(s.consumed);
                if (s.done)
                    return outcome::accept;
                if (s.consumed == 0)
                    return outcome::incomplete;
            }
        }
        default:
            return outcome::reject; // a request is never read until close
        }
    } catch (const parse_error&) {
        return outcome::reject;
    }
}

constexpr const char* h11_script = R"(import sys
import h11
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    conn = h11.Connection(h11.SERVER)
    try:
        conn.receive_data(bytes.fromhex(line))
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                result = "incomplete"
                break
            if isinstance(ev, h11.EndOfMessage):
                result = "accept"
                break
    except h11.RemoteProtocolError:
        result = "reject"
    print(result, flush=True)
)";

/// A python3 that can import h11 (Debian's, then whatever is on PATH), or "".
std::string find_python_with_h11() {
    for (const char* py : {"/usr/bin/python3", "python3"}) {
        const std::string cmd = std::string(py) + " -c 'import h11' >/dev/null 2>&1";
        if (std::system(cmd.c_str()) == 0)
            return py;
    }
    return "";
}

std::string hex(std::string_view s) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

/// Runs every row through h11 in one python3 process.
std::vector<std::string> h11_outcomes(const std::string& python, const std::vector<row>& rows) {
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / ("corio_parser_h11_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path script = dir / "check.py";
    const fs::path input = dir / "cases.txt";
    std::ofstream(script) << h11_script;
    {
        std::ofstream in(input);
        for (const row& r : rows)
            in << hex(r.bytes) << '\n';
    }
    const std::string cmd = python + " " + script.string() + " < " + input.string();
    std::vector<std::string> out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        std::array<char, 64> line{};
        while (std::fgets(line.data(), static_cast<int>(line.size()), f) != nullptr) {
            std::string s(line.data());
            while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
                s.pop_back();
            out.push_back(s);
        }
        ::pclose(f);
    }
    fs::remove_all(dir);
    return out;
}

TEST(ParseRequestHead, AgreesWithH11OrDiffersOnlyWhereDocumented) {
    const std::string python = find_python_with_h11();
    if (python.empty())
        GTEST_SKIP() << "python3 with the h11 module is not installed (Debian: python3-h11)";
    const std::vector<row> rows = table();
    const std::vector<std::string> h11 = h11_outcomes(python, rows);
    ASSERT_EQ(h11.size(), rows.size()) << "the h11 script did not answer every row";
    int differences = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const row& r = rows[i];
        SCOPED_TRACE(r.what);
        EXPECT_EQ(name(corio_outcome(r.bytes)), std::string(name(r.corio)));
        EXPECT_EQ(h11[i], name(r.h11));
        if (std::string_view(r.why).empty())
            EXPECT_EQ(r.corio, r.h11) << "a difference without a reason";
        else
            ++differences;
    }
    // The table covers both sides: shapes both parsers agree on, and the documented gaps.
    EXPECT_GE(rows.size() - static_cast<std::size_t>(differences), 35u);
}

} // namespace

// http::parse_request_head, parse_response_head and chunked_decoder
// (include/corio/http/parser.hpp): the fields of valid messages of every form, every
// request-smuggling shape rejected with the right status and a message that names the problem,
// inputs split at every byte, and the limits.

#include "corio/http/parser.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using corio::http::body_kind;
using corio::http::chunked_decoder;
using corio::http::parse_error;
using corio::http::parse_limits;
using corio::http::parse_request_head;
using corio::http::parse_response_head;
using corio::http::request_head;
using corio::http::response_head;
using namespace std::string_literals;

/// `s` with control bytes escaped, for failure messages.
std::string escaped(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else if (c < 0x20 || c >= 0x7F) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else
            out += static_cast<char>(c);
    }
    return out;
}

/// Everything a request head says, as one comparable string.
std::string describe(const request_head& h) {
    std::ostringstream o;
    o << h.method << ' ' << h.target << " 1." << h.version_minor << '|';
    for (const auto& f : h.headers)
        o << f.name << ':' << f.value << '|';
    o << static_cast<int>(h.body) << ' ' << h.content_length << ' ' << h.keep_alive << ' '
      << h.expect_continue;
    return o.str();
}

std::string describe(const response_head& h) {
    std::ostringstream o;
    o << "1." << h.version_minor << ' ' << h.status << ' ' << h.reason << '|';
    for (const auto& f : h.headers)
        o << f.name << ':' << f.value << '|';
    o << static_cast<int>(h.body) << ' ' << h.content_length << ' ' << h.keep_alive;
    return o.str();
}

/// Parses `text` as a complete request head (all of it), failing the test otherwise.
request_head parse_request(std::string_view text, const parse_limits& limits = {}) {
    request_head h;
    try {
        const std::size_t n = parse_request_head(text, h, limits);
        EXPECT_EQ(n, text.size()) << escaped(text);
    } catch (const parse_error& e) {
        ADD_FAILURE() << "rejected " << escaped(text) << ": " << e.what();
    }
    return h;
}

response_head parse_response(std::string_view text, std::string_view method = "GET") {
    response_head h;
    try {
        const std::size_t n = parse_response_head(text, h, method);
        EXPECT_EQ(n, text.size()) << escaped(text);
    } catch (const parse_error& e) {
        ADD_FAILURE() << "rejected " << escaped(text) << ": " << e.what();
    }
    return h;
}

/// Expects parse_request_head(text) to throw parse_error with `status` and a message that
/// contains `words`.
void expect_request_rejected(std::string_view text, int status, std::string_view words,
                             const parse_limits& limits = {}) {
    request_head h;
    try {
        const std::size_t n = parse_request_head(text, h, limits);
        ADD_FAILURE() << "accepted (" << n << " bytes): " << escaped(text);
    } catch (const parse_error& e) {
        EXPECT_EQ(e.status(), status) << escaped(text) << ": " << e.what();
        EXPECT_NE(std::string_view(e.what()).find(words), std::string_view::npos)
            << escaped(text) << ": \"" << e.what() << "\" does not say \"" << words << '"';
        EXPECT_EQ(std::string_view(e.what()).substr(0, 13), "corio::http: ");
    }
}

void expect_response_rejected(std::string_view text, int status, std::string_view words,
                              std::string_view method = "GET") {
    response_head h;
    try {
        const std::size_t n = parse_response_head(text, h, method);
        ADD_FAILURE() << "accepted (" << n << " bytes): " << escaped(text);
    } catch (const parse_error& e) {
        EXPECT_EQ(e.status(), status) << escaped(text) << ": " << e.what();
        EXPECT_NE(std::string_view(e.what()).find(words), std::string_view::npos)
            << escaped(text) << ": \"" << e.what() << "\" does not say \"" << words << '"';
    }
}

std::string get_with(std::string_view fields) {
    return "GET / HTTP/1.1\r\nHost: a\r\n"s + std::string(fields) + "\r\n";
}

std::string post_with(std::string_view fields) {
    return "POST /upload HTTP/1.1\r\nHost: a\r\n"s + std::string(fields) + "\r\n";
}

// ------------------------------------------------------------------- requests ---

TEST(ParseRequestHead, ParsesATypicalGetWithItsFields) {
    const std::string text = "GET /index.html?q=1 HTTP/1.1\r\n"
                             "Host: example.com:8080\r\n"
                             "User-Agent: wrk\r\n"
                             "Accept:  */*  \r\n"
                             "X-Empty:\r\n"
                             "X-Inner:  a  b\t\r\n"
                             "\r\n";
    const request_head h = parse_request(text);
    EXPECT_EQ(h.method, "GET");
    EXPECT_EQ(h.target, "/index.html?q=1");
    EXPECT_EQ(h.version_minor, 1);
    ASSERT_EQ(h.headers.size(), 5u);
    EXPECT_EQ(h.headers[0].name, "Host");
    EXPECT_EQ(h.headers[0].value, "example.com:8080");
    EXPECT_EQ(h.headers[2].value, "*/*");
    EXPECT_EQ(h.headers[3].name, "X-Empty");
    EXPECT_EQ(h.headers[3].value, "");
    EXPECT_EQ(h.headers[4].value, "a  b");
    EXPECT_EQ(h.body, body_kind::none);
    EXPECT_TRUE(h.keep_alive);
    EXPECT_FALSE(h.expect_continue);
    // The views point into the caller's buffer.
    EXPECT_EQ(h.method.data(), text.data());
    EXPECT_EQ(h.header("user-agent"), "wrk");
    EXPECT_EQ(h.header("USER-AGENT").data(), text.data() + text.find("wrk"));
    EXPECT_EQ(h.header("Missing"), "");
}

TEST(ParseRequestHead, ReturnsOnlyTheHeadAndLeavesTheBodyAndTheNextRequest) {
    const std::string head = "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    const std::string text = head + "helloGET / HTTP/1.1\r\n";
    request_head h;
    EXPECT_EQ(parse_request_head(text, h), head.size());
    EXPECT_EQ(h.body, body_kind::content_length);
    EXPECT_EQ(h.content_length, 5u);
}

TEST(ParseRequestHead, ParsesEveryRequestTargetForm) {
    EXPECT_EQ(
        parse_request("GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n").target,
        "http://example.com/a?b");
    EXPECT_EQ(
        parse_request("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").target,
        "example.com:443");
    EXPECT_EQ(parse_request("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n").target,
              "[::1]:8443");
    EXPECT_EQ(parse_request("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").target, "*");
    EXPECT_EQ(parse_request("DELETE /a%20b/c;p=1?x=y&z HTTP/1.1\r\nHost: a\r\n\r\n").target,
              "/a%20b/c;p=1?x=y&z");
    EXPECT_EQ(parse_request("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n").method, "M-SEARCH");
    const request_head h10 = parse_request("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(h10.version_minor, 0);
}

TEST(ParseRequestHead, RejectsATargetFormThatDoesNotFitTheMethod) {
    expect_request_rejected("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "authority-form");
    expect_request_rejected("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                            "authority-form");
    expect_request_rejected("CONNECT u@example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                            "authority-form");
    expect_request_rejected("CONNECT example.com: HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                            "authority-form");
    expect_request_rejected("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk-form");
    expect_request_rejected("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                            "malformed request target");
    expect_request_rejected("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                            "malformed request target");
}

TEST(ParseRequestHead, RejectsControlsSpacesAndNonAsciiInTheTarget) {
    expect_request_rejected("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request target");
    expect_request_rejected("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request target");
    expect_request_rejected("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request target");
    expect_request_rejected("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "HTTP version");
    expect_request_rejected("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request target");
    expect_request_rejected("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"s, 400, "request target");
}

TEST(ParseRequestHead, RejectsMalformedRequestLines) {
    expect_request_rejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "more than one SP");
    expect_request_rejected("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty HTTP version");
    expect_request_rejected("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "SP after the HTTP");
    expect_request_rejected("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method");
    expect_request_rejected(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method");
    expect_request_rejected("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method");
    expect_request_rejected("GET /\r\n\r\n", 400, "without an HTTP version");
    expect_request_rejected("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version");
    expect_request_rejected("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400, "malformed HTTP version");
    expect_request_rejected("GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version");
    expect_request_rejected("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "malformed HTTP version");
}

TEST(ParseRequestHead, AnswersAnUnsupportedHttpVersionWith505) {
    expect_request_rejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version not supported");
    expect_request_rejected("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "version not supported");
    expect_request_rejected("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "version not supported");
}

TEST(ParseRequestHead, SkipsLeadingEmptyLines) {
    request_head empty;
    EXPECT_EQ(parse_request_head("\r\n\r\n", empty), 0u); // still waiting for a request line
    const std::string text = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const request_head h = parse_request(text);
    EXPECT_EQ(h.method, "GET");
    EXPECT_EQ(h.target, "/");
}

TEST(ParseRequestHead, RejectsABareCrAnywhereInTheHead) {
    // CVE-2023-30589: llhttp and http-parser took a CR alone as a line end.
    expect_request_rejected("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "bare CR");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", 400, "bare CR");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\r\n", 400, "bare CR");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a\r\n\rX", 400, "bare CR");
    expect_request_rejected("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare CR");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400, "bare CR");
}

TEST(ParseRequestHead, RejectsABareLfLineEnd) {
    expect_request_rejected("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bare LF");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF");
    expect_request_rejected("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare LF");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\nc\r\n\r\n", 400, "bare LF");
}

TEST(ParseRequestHead, RejectsWhitespaceBeforeTheColon) {
    expect_request_rejected(post_with("Content-Length : 5\r\n"), 400, "before the colon");
    expect_request_rejected(post_with("Transfer-Encoding\t: chunked\r\n"), 400, "before the colon");
    expect_request_rejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "before the colon");
}

TEST(ParseRequestHead, RejectsObsFold) {
    expect_request_rejected(get_with("X-A: b\r\n c\r\n"), 400, "obs-fold");
    expect_request_rejected(get_with("X-A: b\r\n\tc\r\n"), 400, "obs-fold");
    expect_request_rejected(post_with("Transfer-Encoding: gzip\r\n ,chunked\r\n"), 400, "obs-fold");
    expect_request_rejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400,
                            "whitespace before the first header");
}

TEST(ParseRequestHead, RejectsMalformedHeaderLines) {
    expect_request_rejected(get_with("X-A b\r\n"), 400, "before the colon");
    expect_request_rejected(get_with("X-A\r\n"), 400, "without a colon");
    expect_request_rejected(get_with(": b\r\n"), 400, "empty header field name");
    expect_request_rejected(get_with("X(A): b\r\n"), 400, "header field name");
    expect_request_rejected(get_with("X-\xc3\xa9: b\r\n"), 400, "header field name");
}

TEST(ParseRequestHead, RejectsControlCharactersInFieldValues) {
    expect_request_rejected(get_with("X-A: a\0b\r\n"s), 400, "field value");
    expect_request_rejected(get_with("X-A: a\x01\r\n"), 400, "field value");
    expect_request_rejected(get_with("X-A: a\x1f\r\n"), 400, "field value");
    expect_request_rejected(get_with("X-A: a\x7f\r\n"), 400, "field value");
    expect_request_rejected(get_with("X-A: \x0b\r\n"), 400, "field value");
    // A long value takes the 16-bytes-at-a-time path: the bad byte is found there too.
    expect_request_rejected(get_with("X-A: " + std::string(40, 'v') + "\x02" + "tail\r\n"), 400,
                            "field value");
    // HTAB and obs-text are allowed, also in the middle of a long value.
    const std::string text = get_with("X-A: " + std::string(20, 'v') + "\t\xe9t\xc3\xa9" + "\r\n");
    const request_head h = parse_request(text); // views into `text`
    EXPECT_EQ(h.header("x-a"), std::string(20, 'v') + "\t\xe9t\xc3\xa9");
}

TEST(ParseRequestHead, AcceptsExactlyTheTcharsInMethodsAndFieldNames) {
    const std::string_view tchar_punct = "!#$%&'*+-.^_`|~";
    for (int i = 0; i < 256; ++i) {
        const char c = static_cast<char>(i);
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        const bool tchar = alnum || (i < 0x80 && tchar_punct.find(c) != std::string_view::npos);
        SCOPED_TRACE(i);
        request_head h;
        const std::string method = "G"s + c + "T / HTTP/1.1\r\nHost: a\r\n\r\n";
        const std::string field =
            "GET / HTTP/1.1\r\nHost: a\r\nX" + std::string(1, c) + "Y: v\r\n\r\n";
        bool method_ok = true, field_ok = true;
        try {
            (void)parse_request_head(method, h);
        } catch (const parse_error&) {
            method_ok = false;
        }
        try {
            (void)parse_request_head(field, h);
        } catch (const parse_error&) {
            field_ok = false;
        }
        EXPECT_EQ(method_ok, tchar);
        EXPECT_EQ(field_ok, tchar || c == ':'); // "X:Y: v" is X with the value "Y: v"
    }
}

TEST(ParseRequestHead, AcceptsExactlyVcharObsTextSpAndHtabInFieldValues) {
    for (int i = 0; i < 256; ++i) {
        const bool allowed = (i >= 0x20 && i != 0x7F) || i == '\t';
        SCOPED_TRACE(i);
        // Once in a short value (byte by byte) and once in a long one (16 bytes at a time).
        for (const std::size_t pad : {std::size_t{1}, std::size_t{37}}) {
            const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(pad, 'a') +
                                     static_cast<char>(i) + "b\r\n\r\n";
            request_head h;
            bool ok = true;
            try {
                (void)parse_request_head(text, h);
            } catch (const parse_error&) {
                ok = false;
            }
            EXPECT_EQ(ok, allowed) << pad;
        }
    }
}

TEST(ParseRequestHead, RejectsContentLengthTogetherWithTransferEncoding) {
    expect_request_rejected(post_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400,
                            "Content-Length together with Transfer-Encoding");
    expect_request_rejected(post_with("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"), 400,
                            "Content-Length together with Transfer-Encoding");
}

TEST(ParseRequestHead, RejectsMalformedContentLength) {
    for (const char* v : {"+5", "-5", "5 5", "0x5", "5a", "5.0", " ,5", "5,", "1 2"}) {
        SCOPED_TRACE(v);
        expect_request_rejected(post_with("Content-Length: "s + v + "\r\n"), 400, "Content-Length");
    }
    expect_request_rejected(post_with("Content-Length:\r\n"), 400, "empty Content-Length");
    expect_request_rejected(post_with("Content-Length: 18446744073709551616\r\n"), 400,
                            "overflows");
    expect_request_rejected(post_with("Content-Length: 99999999999999999999999\r\n"), 400,
                            "overflows");
}

TEST(ParseRequestHead, AcceptsRepeatedIdenticalContentLengthsAsOne) {
    const request_head h = parse_request(
        post_with("Content-Length: 7\r\nContent-Length: 7\r\ncontent-length: 7 , 007\r\n"));
    EXPECT_EQ(h.body, body_kind::content_length);
    EXPECT_EQ(h.content_length, 7u);
    EXPECT_EQ(parse_request(post_with("Content-Length: 0\r\n")).content_length, 0u);
    EXPECT_EQ(parse_request(post_with("Content-Length: 0\r\n")).body, body_kind::content_length);
}

TEST(ParseRequestHead, RejectsDifferingContentLengths) {
    expect_request_rejected(post_with("Content-Length: 5\r\nContent-Length: 6\r\n"), 400,
                            "Content-Length values that differ");
    expect_request_rejected(post_with("Content-Length: 5, 6\r\n"), 400,
                            "Content-Length values that differ");
    expect_request_rejected(post_with("Content-Length: 5\r\nContent-Length: 5,6\r\n"), 400,
                            "Content-Length values that differ");
}

TEST(ParseRequestHead, AcceptsChunkedAsTheOnlyTransferCoding) {
    for (const char* te : {"Transfer-Encoding: chunked\r\n", "transfer-encoding: CHUNKED\r\n",
                           "Transfer-Encoding:chunked \r\n"}) {
        SCOPED_TRACE(te);
        const request_head h = parse_request(post_with(te));
        EXPECT_EQ(h.body, body_kind::chunked);
    }
}

TEST(ParseRequestHead, RejectsATransferEncodingWhoseFinalCodingIsNotChunked) {
    expect_request_rejected(post_with("Transfer-Encoding: gzip\r\n"), 400, "final transfer coding");
    expect_request_rejected(post_with("Transfer-Encoding: chunked, gzip\r\n"), 400,
                            "final transfer coding");
    expect_request_rejected(post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n"),
                            400, "final transfer coding");
    expect_request_rejected(post_with("Transfer-Encoding: identity\r\n"), 400,
                            "final transfer coding");
    expect_request_rejected(post_with("Transfer-Encoding: chunkedx\r\n"), 400,
                            "final transfer coding");
    expect_request_rejected(post_with("Transfer-Encoding: \"chunked\"\r\n"), 400,
                            "Transfer-Encoding");
}

TEST(ParseRequestHead, AnswersAnUnknownTransferCodingBeforeChunkedWith501) {
    expect_request_rejected(post_with("Transfer-Encoding: gzip, chunked\r\n"), 501,
                            "not implemented");
    expect_request_rejected(post_with("Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n"),
                            501, "not implemented");
    expect_request_rejected(post_with("Transfer-Encoding: foo;q=\"a,b\" , chunked\r\n"), 501,
                            "not implemented");
}

TEST(ParseRequestHead, RejectsChunkedAppliedTwiceOrWithParameters) {
    expect_request_rejected(post_with("Transfer-Encoding: chunked, chunked\r\n"), 400,
                            "more than once");
    expect_request_rejected(
        post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400,
        "more than once");
    expect_request_rejected(post_with("Transfer-Encoding: chunked;a=b\r\n"), 400,
                            "parameters on the chunked");
    expect_request_rejected(post_with("Transfer-Encoding: chunked,\r\n"), 400, "empty element");
    expect_request_rejected(post_with("Transfer-Encoding:\r\n"), 400, "empty Transfer-Encoding");
}

TEST(ParseRequestHead, RejectsTransferEncodingInAnHttp10Request) {
    expect_request_rejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                            "HTTP/1.0");
}

TEST(ParseRequestHead, RequiresExactlyOneHostInHttp11) {
    expect_request_rejected("GET / HTTP/1.1\r\n\r\n", 400, "without a Host");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400,
                            "more than one Host");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Host");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "Host");
    expect_request_rejected("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, "Host");
    EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost:\r\n\r\n").header("host"), "");
    EXPECT_EQ(parse_request("GET / HTTP/1.0\r\n\r\n").headers.size(), 0u);
    EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n").header("Host"), "[::1]:80");
}

TEST(ParseRequestHead, DerivesKeepAliveFromTheVersionAndTheConnectionTokens) {
    EXPECT_TRUE(parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").keep_alive);
    EXPECT_FALSE(parse_request(get_with("Connection: close\r\n")).keep_alive);
    EXPECT_FALSE(parse_request(get_with("Connection: Upgrade, CLOSE\r\n")).keep_alive);
    EXPECT_FALSE(
        parse_request(get_with("Connection: keep-alive\r\nConnection: close\r\n")).keep_alive);
    EXPECT_TRUE(parse_request(get_with("Connection: closed\r\n")).keep_alive);
    EXPECT_FALSE(parse_request("GET / HTTP/1.0\r\n\r\n").keep_alive);
    EXPECT_TRUE(parse_request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    EXPECT_FALSE(
        parse_request("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
}

TEST(ParseRequestHead, SeesExpect100ContinueOnlyInHttp11) {
    EXPECT_TRUE(
        parse_request(post_with("Expect: 100-continue\r\nContent-Length: 3\r\n")).expect_continue);
    EXPECT_TRUE(parse_request(post_with("expect: 100-Continue\r\n")).expect_continue);
    EXPECT_FALSE(parse_request(post_with("Expect: 200-ok\r\n")).expect_continue);
    EXPECT_FALSE(parse_request("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
}

TEST(ParseRequestHead, ReturnsZeroForEveryPrefixThenTheSameResult) {
    const std::string texts[] = {
        "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
        "\r\nPOST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: close\r\n"
        "X-Long: " +
            std::string(50, 'z') + " \r\n\r\n",
        "PUT http://h/p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: "
        "100-continue\r\n\r\n",
        "CONNECT h:443 HTTP/1.0\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nX-E:\r\n\r\n",
    };
    for (const std::string& text : texts) {
        SCOPED_TRACE(escaped(text));
        request_head whole;
        ASSERT_EQ(parse_request_head(text, whole), text.size());
        const std::string expected = describe(whole);
        for (std::size_t n = 0; n < text.size(); ++n) {
            request_head h;
            EXPECT_EQ(parse_request_head(std::string_view(text).substr(0, n), h), 0u)
                << "prefix of " << n;
        }
        // With more bytes after the head, the result is the same.
        const std::string more = text + "GET / HTTP/1.1\r\n";
        request_head again;
        ASSERT_EQ(parse_request_head(more, again), text.size());
        EXPECT_EQ(describe(again), expected);
    }
}

TEST(ParseRequestHead, ReusesTheHeaderVectorWithoutAllocating) {
    const std::string text =
        "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
    request_head h;
    ASSERT_EQ(parse_request_head(text, h), text.size());
    const auto* storage = h.headers.data();
    const auto capacity = h.headers.capacity();
    ASSERT_EQ(parse_request_head(text, h), text.size());
    EXPECT_EQ(h.headers.size(), 6u);
    EXPECT_EQ(h.headers.data(), storage);
    EXPECT_EQ(h.headers.capacity(), capacity);
}

TEST(ParseRequestHead, ReturnsTheFirstValueOfARepeatedHeader) {
    const std::string text = get_with("Cookie: a=1\r\ncookie: b=2\r\n");
    const request_head h = parse_request(text); // views into `text`
    EXPECT_EQ(h.header("COOKIE"), "a=1");
    EXPECT_EQ(h.headers.size(), 3u);
}

TEST(ParseRequestHead, AnswersAHeadOverMaxHeadBytesWith431) {
    parse_limits limits;
    limits.max_head_bytes = 64;
    const std::string fits = get_with("X-A: " + std::string(64 - 34, 'v') + "\r\n");
    ASSERT_EQ(fits.size(), 64u);
    EXPECT_EQ(parse_request(fits, limits).header("x-a").size(), 30u);
    const std::string over = get_with("X-A: " + std::string(64 - 33, 'v') + "\r\n");
    expect_request_rejected(over, 431, "max_head_bytes", limits);
    // An incomplete head is cut off as soon as it is longer than the limit: a client that
    // never sends the empty line cannot make the server buffer forever.
    const std::string slow = "GET / HTTP/1.1\r\nHost: a\r\nX-A: " + std::string(100, 'v');
    request_head h;
    EXPECT_EQ(parse_request_head(slow.substr(0, 64), h, limits), 0u);
    expect_request_rejected(slow.substr(0, 65), 431, "max_head_bytes", limits);
    expect_request_rejected(std::string(65, '\r').replace(1, 64, std::string(64, '\n')), 400,
                            "bare", limits);
    std::string crlfs;
    for (int i = 0; i < 40; ++i)
        crlfs += "\r\n";
    expect_request_rejected(crlfs, 431, "max_head_bytes", limits);
}

TEST(ParseRequestHead, AnswersMoreThanMaxHeaderCountFieldsWith431) {
    parse_limits limits;
    limits.max_header_count = 3;
    EXPECT_EQ(parse_request(get_with("A: 1\r\nB: 2\r\n"), limits).headers.size(), 3u);
    expect_request_rejected(get_with("A: 1\r\nB: 2\r\nC: 3\r\n"), 431, "max_header_count", limits);
}

TEST(ParseRequestHead, AnswersAContentLengthOverMaxBodyBytesWith413) {
    parse_limits limits;
    limits.max_body_bytes = 100;
    EXPECT_EQ(parse_request(post_with("Content-Length: 100\r\n"), limits).content_length, 100u);
    expect_request_rejected(post_with("Content-Length: 101\r\n"), 413, "max_body_bytes", limits);
    expect_request_rejected(post_with("Content-Length: 18446744073709551615\r\n"), 413,
                            "max_body_bytes");
}

// ------------------------------------------------------------------ responses ---

TEST(ParseResponseHead, ParsesAStatusLineAndHeaders) {
    const response_head h =
        parse_response("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nServer: x\r\n\r\n");
    EXPECT_EQ(h.version_minor, 1);
    EXPECT_EQ(h.status, 404);
    EXPECT_EQ(h.reason, "Not Found");
    EXPECT_EQ(h.body, body_kind::content_length);
    EXPECT_EQ(h.content_length, 9u);
    EXPECT_TRUE(h.keep_alive);
    EXPECT_EQ(h.header("server"), "x");
}

TEST(ParseResponseHead, AcceptsAnEmptyOrMissingReasonPhrase) {
    EXPECT_EQ(parse_response("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").reason, "");
    EXPECT_EQ(parse_response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status, 200);
    EXPECT_EQ(parse_response("HTTP/1.1 999 Odd \t one\r\nContent-Length: 0\r\n\r\n").reason,
              "Odd \t one");
}

TEST(ParseResponseHead, FollowsTheBodyLengthRulesOfRfc9112) {
    const std::string cl = "Content-Length: 10\r\n\r\n";
    EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\n" + cl, "HEAD").body, body_kind::none);
    EXPECT_EQ(parse_response("HTTP/1.1 100 Continue\r\n\r\n").body, body_kind::none);
    EXPECT_EQ(parse_response("HTTP/1.1 101 Switching\r\n\r\n").body, body_kind::none);
    EXPECT_EQ(parse_response("HTTP/1.1 204 No Content\r\n" + cl).body, body_kind::none);
    EXPECT_EQ(parse_response("HTTP/1.1 304 Not Modified\r\n" + cl).body, body_kind::none);
    EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\n\r\n", "CONNECT").body, body_kind::none);
    EXPECT_EQ(parse_response("HTTP/1.1 407 Auth\r\n" + cl, "CONNECT").body,
              body_kind::content_length);
    EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").body,
              body_kind::chunked);
    const response_head with_cl = parse_response("HTTP/1.1 200 OK\r\n" + cl);
    EXPECT_EQ(with_cl.body, body_kind::content_length);
    EXPECT_EQ(with_cl.content_length, 10u);
    const response_head until_close = parse_response("HTTP/1.1 200 OK\r\n\r\n");
    EXPECT_EQ(until_close.body, body_kind::until_close);
    EXPECT_FALSE(until_close.keep_alive);
    // A HEAD response may announce a length larger than the body limit: no body follows.
    EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "HEAD")
                  .content_length,
              0u);
}

TEST(ParseResponseHead, DerivesKeepAliveFromTheVersionAndTheConnectionTokens) {
    EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                     .keep_alive);
    EXPECT_FALSE(parse_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    EXPECT_TRUE(
        parse_response("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
            .keep_alive);
    EXPECT_EQ(parse_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").version_minor, 0);
}

TEST(ParseResponseHead, RejectsMalformedResponsesWith502) {
    expect_response_rejected("HTTP/2.0 200 OK\r\n\r\n", 502, "HTTP version");
    expect_response_rejected("HTTP/1.1  200 OK\r\n\r\n", 502, "status code");
    expect_response_rejected("HTTP/1.1 20 OK\r\n\r\n", 502, "status code");
    expect_response_rejected("HTTP/1.1 2000 OK\r\n\r\n", 502, "status line");
    expect_response_rejected("HTTP/1.1 099 Low\r\n\r\n", 502, "out of range");
    expect_response_rejected("HTTP/1.1 2x0 OK\r\n\r\n", 502, "status code");
    expect_response_rejected("HTTP/1.1\r\n\r\n", 502, "no SP");
    expect_response_rejected("HTTP/1.1 200 OK\rX: y\r\n\r\n", 502, "bare CR");
    expect_response_rejected("HTTP/1.1 200 OK\nX: y\r\n\r\n", 502, "bare LF");
    expect_response_rejected("HTTP/1.1 200 O\x01K\r\n\r\n", 502, "status line");
    expect_response_rejected("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", 502, "obs-fold");
    expect_response_rejected("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", 502, "before the colon");
    expect_response_rejected(
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 502,
        "Content-Length together with Transfer-Encoding");
    expect_response_rejected("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                             502, "differ");
    expect_response_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 502,
                             "unsupported transfer coding");
    expect_response_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 502,
                             "unsupported transfer coding");
    expect_response_rejected("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 502,
                             "HTTP/1.0");
}

TEST(ParseResponseHead, AnswersOverLimitsWith431And413) {
    parse_limits limits;
    limits.max_head_bytes = 32;
    response_head h;
    try {
        (void)parse_response_head("HTTP/1.1 200 OK\r\nX-A: " + std::string(40, 'v'), h, "GET",
                                  limits);
        ADD_FAILURE() << "accepted";
    } catch (const parse_error& e) {
        EXPECT_EQ(e.status(), 431);
    }
    limits = {};
    limits.max_body_bytes = 5;
    try {
        (void)parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", h, "GET", limits);
        ADD_FAILURE() << "accepted";
    } catch (const parse_error& e) {
        EXPECT_EQ(e.status(), 413);
    }
}

TEST(ParseResponseHead, ReturnsZeroForEveryPrefixThenTheSameResult) {
    const std::string text = "\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n";
    response_head whole;
    ASSERT_EQ(parse_response_head(text, whole), text.size());
    for (std::size_t n = 0; n < text.size(); ++n) {
        response_head h;
        EXPECT_EQ(parse_response_head(std::string_view(text).substr(0, n), h), 0u)
            << "prefix of " << n;
    }
    response_head again;
    const std::string more = text + "body";
    ASSERT_EQ(parse_response_head(more, again), text.size());
    EXPECT_EQ(describe(again), describe(whole));
}

// ---------------------------------------------------------------- chunked body ---

struct decoded {
    std::string body;
    std::size_t consumed = 0;
    bool done = false;
    int status = 0; ///< the parse_error's status, 0 if none
    std::string what;
};

/// Feeds `in` to a fresh decoder in pieces cut at `cuts` (offsets, increasing), each piece
/// followed by what the decoder did not take of the previous one.
decoded decode_split(std::string_view in, const std::vector<std::size_t>& cuts,
                     const parse_limits& limits = {}) {
    chunked_decoder d(limits);
    decoded out;
    std::size_t pos = 0;
    try {
        std::vector<std::size_t> ends = cuts;
        ends.push_back(in.size());
        for (std::size_t e : ends) {
            while (pos < e && !d.done()) {
                const auto s = d.decode(in.substr(pos, e - pos));
                out.body.append(s.data);
                pos += s.consumed;
                if (s.done) {
                    out.done = true;
                    break;
                }
                if (s.consumed == 0)
                    break;
            }
        }
    } catch (const parse_error& e) {
        out.status = e.status();
        out.what = e.what();
    }
    out.consumed = pos;
    return out;
}

decoded decode_whole(std::string_view in, const parse_limits& limits = {}) {
    return decode_split(in, {}, limits);
}

void expect_chunked_rejected(std::string_view in, int status, std::string_view words,
                             const parse_limits& limits = {}) {
    const decoded d = decode_whole(in, limits);
    EXPECT_EQ(d.status, status) << escaped(in) << ": " << d.what;
    EXPECT_NE(d.what.find(words), std::string::npos)
        << escaped(in) << ": \"" << d.what << "\" does not say \"" << words << '"';
}

TEST(ChunkedDecoder, DecodesChunksAndSkipsTheTrailers) {
    const std::string in = "5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
                           "Expires: never\r\nX-Sum: 1\r\n\r\nNEXT";
    const decoded d = decode_whole(in);
    EXPECT_EQ(d.status, 0) << d.what;
    EXPECT_TRUE(d.done);
    EXPECT_EQ(d.body, "helloabcdefghijklmnopqrstuvwxyz");
    EXPECT_EQ(d.consumed, in.size() - 4); // stops before the next message
}

TEST(ChunkedDecoder, ReturnsOneRunOfBodyBytesPerCallAsViewsIntoTheInput) {
    const std::string in = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    chunked_decoder d;
    auto s = d.decode(in);
    EXPECT_EQ(s.data, "abc");
    EXPECT_EQ(s.data.data(), in.data() + 3);
    EXPECT_EQ(s.consumed, 6u);
    EXPECT_FALSE(s.done);
    s = d.decode(std::string_view(in).substr(6));
    EXPECT_EQ(s.data, "de");
    EXPECT_EQ(s.consumed, 7u);
    s = d.decode(std::string_view(in).substr(13));
    EXPECT_EQ(s.data, "");
    EXPECT_TRUE(s.done);
    EXPECT_TRUE(d.done());
    EXPECT_EQ(s.consumed, in.size() - 13);
    EXPECT_EQ(d.body_bytes(), 5u);
    // Once done it takes nothing more.
    s = d.decode("5\r\nhello\r\n");
    EXPECT_EQ(s.consumed, 0u);
    EXPECT_TRUE(s.done);
}

TEST(ChunkedDecoder, GivesTheSameBodyForTheInputSplitAtEveryByte) {
    const std::string in = "4;name=value;q=\"a \\\" b\" ; x\r\nWiki\r\n00000005\r\npedia\r\n"
                           "e\r\n in\r\n\r\nchunks.\r\n0;last\r\nTrailer: t\r\n\r\n";
    const decoded whole = decode_whole(in);
    ASSERT_EQ(whole.status, 0) << whole.what;
    ASSERT_TRUE(whole.done);
    EXPECT_EQ(whole.body, "Wikipedia in\r\n\r\nchunks.");
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
        const decoded d = decode_split(in, {cut});
        EXPECT_EQ(d.body, whole.body) << "cut at " << cut;
        EXPECT_EQ(d.consumed, whole.consumed) << "cut at " << cut;
        EXPECT_TRUE(d.done) << "cut at " << cut;
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < in.size(); ++i)
        every.push_back(i);
    const decoded bytes = decode_split(in, every);
    EXPECT_EQ(bytes.body, whole.body);
    EXPECT_TRUE(bytes.done);
}

TEST(ChunkedDecoder, RejectsTheSameWayWhereverTheInputIsSplit) {
    const std::string in = "3\r\nabc\r\n2\r\nde\r\n0\r\nX : y\r\n\r\n";
    const decoded whole = decode_whole(in);
    ASSERT_EQ(whole.status, 400);
    for (std::size_t cut = 0; cut <= in.size(); ++cut)
        EXPECT_EQ(decode_split(in, {cut}).status, 400) << "cut at " << cut;
}

TEST(ChunkedDecoder, AcceptsHexInEitherCaseWithLeadingZeros) {
    const decoded d = decode_whole("0000000000000000000000a\r\n0123456789\r\nA\r\n0123456789\r\n"
                                   "0\r\n\r\n");
    EXPECT_EQ(d.status, 0) << d.what;
    EXPECT_EQ(d.body.size(), 20u);
}

TEST(ChunkedDecoder, RejectsMalformedChunkSizes) {
    expect_chunked_rejected("\r\n", 400, "not a hex number");
    expect_chunked_rejected("+5\r\nhello\r\n0\r\n\r\n", 400, "not a hex number");
    expect_chunked_rejected(" 5\r\nhello\r\n0\r\n\r\n", 400, "not a hex number");
    expect_chunked_rejected("-1\r\n", 400, "not a hex number");
    expect_chunked_rejected("0x5\r\nhello\r\n0\r\n\r\n", 400, "after a chunk size");
    expect_chunked_rejected("5g\r\nhello\r\n0\r\n\r\n", 400, "after a chunk size");
    expect_chunked_rejected("5 \r\nhello\r\n0\r\n\r\n", 400, "whitespace after a chunk size");
    expect_chunked_rejected("10000000000000000\r\n", 400, "overflows");
    expect_chunked_rejected("5\nhello\r\n0\r\n\r\n", 400, "after a chunk size");
    expect_chunked_rejected("5\rhello\r\n0\r\n\r\n", 400, "bare CR");
}

TEST(ChunkedDecoder, RequiresCrlfAfterChunkData) {
    expect_chunked_rejected("5\r\nhelloXX0\r\n\r\n", 400, "not followed by CRLF");
    expect_chunked_rejected("5\r\nhello\n0\r\n\r\n", 400, "not followed by CRLF");
    expect_chunked_rejected("5\r\nhello\r0\r\n\r\n", 400, "not followed by CRLF");
    // A size smaller than the data: the rest is not a CRLF.
    expect_chunked_rejected("3\r\nhello\r\n0\r\n\r\n", 400, "not followed by CRLF");
}

TEST(ChunkedDecoder, ParsesAndSkipsChunkExtensions) {
    for (const char* ext : {";a", ";a=b", " ;a = b ; c", ";a=\"q;\\\"\r\"", ";a=\"\"", "\t;a"}) {
        SCOPED_TRACE(escaped(ext));
        const std::string in = "3"s + ext + "\r\nabc\r\n0\r\n\r\n";
        const decoded d = decode_whole(in);
        if (std::string_view(ext).find('\r') != std::string_view::npos) {
            // A CR inside a quoted string is not qdtext.
            EXPECT_EQ(d.status, 400);
            continue;
        }
        EXPECT_EQ(d.status, 0) << d.what;
        EXPECT_EQ(d.body, "abc");
    }
    expect_chunked_rejected("3;\r\nabc\r\n0\r\n\r\n", 400, "chunk extension");
    expect_chunked_rejected("3;=b\r\nabc\r\n0\r\n\r\n", 400, "chunk extension");
    expect_chunked_rejected("3;a=\r\nabc\r\n0\r\n\r\n", 400, "chunk extension");
    expect_chunked_rejected("3;a b\r\nabc\r\n0\r\n\r\n", 400, "chunk extension");
    expect_chunked_rejected("3;a=b c\r\nabc\r\n0\r\n\r\n", 400, "chunk extension");
    expect_chunked_rejected("3;a=\"b\r\nabc\r\n0\r\n\r\n", 400, "quoted chunk extension");
    expect_chunked_rejected("3;a\x01\r\nabc\r\n0\r\n\r\n", 400, "chunk extension");
    expect_chunked_rejected("3;" + std::string(5000, 'a') + "\r\nabc\r\n0\r\n\r\n", 400,
                            "too long");
}

TEST(ChunkedDecoder, ParsesTrailersWithTheHeaderFieldRules) {
    expect_chunked_rejected("0\r\nX : y\r\n\r\n", 400, "before the colon");
    expect_chunked_rejected("0\r\nX: y\r\n z\r\n\r\n", 400, "obs-fold");
    expect_chunked_rejected("0\r\nX: a\0b\r\n\r\n"s, 400, "trailer field value");
    expect_chunked_rejected("0\r\nX: y\n\r\n", 400, "bare LF");
    expect_chunked_rejected("0\r\nX: y\ra\r\n\r\n", 400, "bare CR");
    expect_chunked_rejected("0\r\nX\r\n\r\n", 400, "without a colon");
    expect_chunked_rejected("0\r\n(X): y\r\n\r\n", 400, "trailer field name");
    expect_chunked_rejected("0\r\n\rX", 400, "bare CR");
    expect_chunked_rejected("0\r\n\n", 400, "bare LF");
    const decoded ok = decode_whole("0\r\nX:\r\nY: \xff\t z\r\n\r\n");
    EXPECT_EQ(ok.status, 0) << ok.what;
    EXPECT_TRUE(ok.done);
}

TEST(ChunkedDecoder, EnforcesTheBodyAndTrailerLimits) {
    parse_limits limits;
    limits.max_body_bytes = 10;
    EXPECT_EQ(decode_whole("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", limits).status, 0);
    expect_chunked_rejected("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", 413, "max_body_bytes",
                            limits);
    expect_chunked_rejected("B\r\n", 413, "max_body_bytes", limits);
    expect_chunked_rejected("ffffffffffffffff\r\n", 413, "max_body_bytes");
    limits = {};
    limits.max_head_bytes = 20;
    expect_chunked_rejected("0\r\nX-Trailer: " + std::string(20, 'v') + "\r\n\r\n", 431,
                            "trailer section", limits);
    limits = {};
    limits.max_header_count = 2;
    EXPECT_EQ(decode_whole("0\r\nA: 1\r\nB: 2\r\n\r\n", limits).status, 0);
    expect_chunked_rejected("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, "max_header_count", limits);
}

TEST(ChunkedDecoder, ReportsAnIncompleteBodyAsNotDone) {
    const decoded d = decode_whole("5\r\nhel");
    EXPECT_EQ(d.status, 0);
    EXPECT_FALSE(d.done);
    EXPECT_EQ(d.body, "hel");
    const decoded e = decode_whole("5\r\nhello\r\n0\r\n");
    EXPECT_FALSE(e.done);
    EXPECT_EQ(e.consumed, 13u);
}

} // namespace

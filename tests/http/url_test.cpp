// http::url: parsing, normalisation, errors, and RFC 3986 §5.4 reference resolution.

#include "corio/http/url.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using corio::http::url;

/// The message of the std::invalid_argument that parsing `text` throws ("" if none).
std::string parse_error_of(const std::string& text) {
    try {
        (void)url::parse(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

struct parse_case {
    const char* text;
    const char* scheme;
    const char* host;
    unsigned port;
    const char* target;
    const char* host_header;
};

TEST(Url, ParsesTheComponentsOfValidUrls) {
    const parse_case cases[] = {
        {"http://example.com", "http", "example.com", 80, "/", "example.com"},
        {"HTTP://Example.COM/A/b", "http", "example.com", 80, "/A/b", "example.com"},
        {"https://example.com/", "https", "example.com", 443, "/", "example.com"},
        {"http://example.com:8080/x?y=1", "http", "example.com", 8080, "/x?y=1",
         "example.com:8080"},
        {"https://example.com:443/", "https", "example.com", 443, "/", "example.com"},
        {"https://example.com:80/", "https", "example.com", 80, "/", "example.com:80"},
        {"http://example.com:/p", "http", "example.com", 80, "/p", "example.com"},
        {"http://127.0.0.1:65535", "http", "127.0.0.1", 65535, "/", "127.0.0.1:65535"},
        {"http://[::1]/", "http", "::1", 80, "/", "[::1]"},
        {"http://[2001:DB8::1]:8443/a", "http", "2001:db8::1", 8443, "/a", "[2001:db8::1]:8443"},
        {"http://[::ffff:192.0.2.1]", "http", "::ffff:192.0.2.1", 80, "/", "[::ffff:192.0.2.1]"},
        {"http://h/a/./b/../c", "http", "h", 80, "/a/c", "h"},
        {"http://h/p?", "http", "h", 80, "/p?", "h"},
        {"http://h?q", "http", "h", 80, "/?q", "h"},
        {"http://h/p#frag", "http", "h", 80, "/p", "h"},
        {"http://h/p?q=1#frag?x", "http", "h", 80, "/p?q=1", "h"},
        {"http://h/%7Euser/a%20b", "http", "h", 80, "/%7Euser/a%20b", "h"},
        {"http://h/a|b{c}", "http", "h", 80, "/a%7Cb%7Bc%7D", "h"},
        {"http://my-host_1.example~/", "http", "my-host_1.example~", 80, "/", "my-host_1.example~"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        const url u = url::parse(c.text);
        EXPECT_EQ(u.scheme(), c.scheme);
        EXPECT_EQ(u.host(), c.host);
        EXPECT_EQ(u.port(), c.port);
        EXPECT_EQ(u.target(), c.target);
        EXPECT_EQ(u.host_header(), c.host_header);
    }
}

TEST(Url, SplitsPathAndQueryAndReportsTheKindOfHost) {
    const url u = url::parse("https://[fe80::1]:9000/a/b?x=1&y=2");
    EXPECT_EQ(u.path(), "/a/b");
    EXPECT_EQ(u.query(), "x=1&y=2");
    EXPECT_TRUE(u.has_query());
    EXPECT_TRUE(u.is_https());
    EXPECT_TRUE(u.is_ipv6());
    EXPECT_FALSE(u.has_default_port());
    EXPECT_EQ(u.origin(), "https://[fe80::1]:9000");
    EXPECT_EQ(u.str(), "https://[fe80::1]:9000/a/b?x=1&y=2");
    EXPECT_FALSE(url::parse("http://h/").has_query());
}

TEST(Url, EqualUrlsCompareEqualAfterNormalisation) {
    EXPECT_EQ(url::parse("HTTP://H:80/a/../b#x"), url::parse("http://h/b"));
    EXPECT_NE(url::parse("http://h/b"), url::parse("https://h/b"));
}

TEST(Url, RejectsBadUrlsWithAMessageNamingTheProblem) {
    struct bad_case {
        const char* text;
        const char* message;
    };
    const bad_case cases[] = {
        {"http:///x", "corio::http: URL has no host: 'http:///x'"},
        {"http://", "corio::http: URL has no host: 'http://'"},
        {"http://:80/", "corio::http: URL has no host: 'http://:80/'"},
        {"example.com/x", "corio::http: URL has no scheme (expected http:// or https://): "
                          "'example.com/x'"},
        {"/relative", "corio::http: URL has no scheme (expected http:// or https://): "
                      "'/relative'"},
        {"ftp://h/", "corio::http: unsupported URL scheme 'ftp' (expected http or https): "
                     "'ftp://h/'"},
        {"http:g", "corio::http: URL has no host: 'http:g'"},
        {"http://h:0/", "corio::http: URL has a port outside 1-65535: 'http://h:0/'"},
        {"http://h:65536/", "corio::http: URL has a port outside 1-65535: 'http://h:65536/'"},
        {"http://h:99999999999999999999/",
         "corio::http: URL has a port outside 1-65535: 'http://h:99999999999999999999/'"},
        {"http://h:8a/", "corio::http: URL has a port that is not a number: 'http://h:8a/'"},
        {"http://[::1/", "corio::http: URL has an IPv6 address without its closing ']': "
                         "'http://[::1/'"},
        {"http://[::g]/", "corio::http: URL has a bad IPv6 address: 'http://[::g]/'"},
        {"http://[127.0.0.1]/", "corio::http: URL has a bad IPv6 address: "
                                "'http://[127.0.0.1]/'"},
        {"http://[fe80::1%25eth0]/", "corio::http: URL has an IPv6 zone identifier, which is "
                                     "not supported: 'http://[fe80::1%25eth0]/'"},
        {"http://[::1]x/", "corio::http: URL has characters after the IPv6 address: "
                           "'http://[::1]x/'"},
        {"http://h/a b", "corio::http: URL contains a space, control character or non-ASCII "
                         "byte (percent-encode it): 'http://h/a b'"},
        {"http://h/\r\nX: y", "corio::http: URL contains a space, control character or "
                              "non-ASCII byte (percent-encode it): 'http://h/\r\nX: y'"},
        {"http://h/caf\xc3\xa9", "corio::http: URL contains a space, control character or "
                                 "non-ASCII byte (percent-encode it): 'http://h/caf\xc3\xa9'"},
        {"http://h/%zz", "corio::http: URL has a '%' not followed by two hex digits: "
                         "'http://h/%zz'"},
        {"http://h/%4", "corio::http: URL has a '%' not followed by two hex digits: "
                        "'http://h/%4'"},
        {"http://h<x>/", "corio::http: URL has a bad character in its host: 'http://h<x>/'"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(parse_error_of(c.text), c.message);
    }
}

TEST(Url, RejectsUserinfoWithoutRepeatingThePassword) {
    const std::string msg = parse_error_of("http://user:secret@example.com/");
    EXPECT_NE(msg.find("userinfo"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
}

TEST(Url, ResolvesTheNormalExamplesOfRfc3986) {
    const url base = url::parse("http://a/b/c/d;p?q");
    const std::pair<const char*, const char*> cases[] = {
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g/"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q"},
        {"g#s", "http://a/b/c/g"},
        {"g?y#s", "http://a/b/c/g?y"},
        {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"},
        {"g;x?y#s", "http://a/b/c/g;x?y"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../", "http://a/"},
        {"../../g", "http://a/g"},
    };
    for (const auto& [ref, want] : cases) {
        SCOPED_TRACE(ref);
        EXPECT_EQ(base.resolve(ref).str(), want);
    }
}

TEST(Url, ResolvesTheAbnormalExamplesOfRfc3986) {
    const url base = url::parse("http://a/b/c/d;p?q");
    const std::pair<const char*, const char*> cases[] = {
        {"../../../g", "http://a/g"},
        {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},
        {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"},
        {"g?y/../x", "http://a/b/c/g?y/../x"},
    };
    for (const auto& [ref, want] : cases) {
        SCOPED_TRACE(ref);
        EXPECT_EQ(base.resolve(ref).str(), want);
    }
}

TEST(Url, ResolvesAbsoluteAndSchemeRelativeLocations) {
    const url base = url::parse("https://api.example.com:8443/v1/items?page=2");
    EXPECT_EQ(base.resolve("http://other.example/x").str(), "http://other.example/x");
    EXPECT_EQ(base.resolve("//cdn.example/img.png").str(), "https://cdn.example/img.png");
    EXPECT_EQ(base.resolve("/login?next=%2Fv1").str(),
              "https://api.example.com:8443/login?next=%2Fv1");
    EXPECT_EQ(base.resolve("detail/7").str(), "https://api.example.com:8443/v1/detail/7");
    EXPECT_EQ(base.resolve("?page=3").str(), "https://api.example.com:8443/v1/items?page=3");
    EXPECT_EQ(base.resolve("//[::1]:81/").str(), "https://[::1]:81/");
}

TEST(Url, ResolvingToABadUrlThrows) {
    const url base = url::parse("http://a/b");
    EXPECT_THROW((void)base.resolve("ftp://x/"), std::invalid_argument);
    EXPECT_THROW((void)base.resolve("g:h"), std::invalid_argument);
    EXPECT_THROW((void)base.resolve("//"), std::invalid_argument);
    EXPECT_THROW((void)base.resolve("a b"), std::invalid_argument);
}

} // namespace

#include "corio/net/socket_address.hpp"
#include "corio/net/unix_endpoint.hpp"

#include <gtest/gtest.h>
#include <sys/un.h>

#include <stdexcept>
#include <string>

namespace {

using corio::net::socket_address;
using corio::net::unix_endpoint;

TEST(UnixEndpoint, APathRoundTripsThroughTheSockaddr) {
    const unix_endpoint e("/tmp/x.sock");
    EXPECT_TRUE(e.is_path());
    EXPECT_EQ(e.name(), "/tmp/x.sock");
    EXPECT_EQ(e.to_string(), "/tmp/x.sock");
    sockaddr_storage ss;
    const socklen_t len = e.to_sockaddr(ss);
    EXPECT_STREQ(reinterpret_cast<sockaddr_un&>(ss).sun_path, "/tmp/x.sock");
    EXPECT_EQ(unix_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len), e);
}

TEST(UnixEndpoint, AtSignOrNulPrefixMeansTheAbstractNamespace) {
    const unix_endpoint a("@corio-test");
    const unix_endpoint b(std::string_view("\0corio-test", 11));
    EXPECT_TRUE(a.is_abstract());
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.name(), "corio-test");
    EXPECT_EQ(a.to_string(), "@corio-test");
    sockaddr_storage ss;
    const socklen_t len = a.to_sockaddr(ss);
    // Only the used bytes count: the leading NUL and the name, no terminator.
    EXPECT_EQ(len, offsetof(sockaddr_un, sun_path) + 1 + 10);
    EXPECT_EQ(reinterpret_cast<sockaddr_un&>(ss).sun_path[0], '\0');
    EXPECT_EQ(unix_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len), a);
    EXPECT_EQ(unix_endpoint::abstract("corio-test"), a);
}

TEST(UnixEndpoint, NulBytesInsideAnAbstractNameAreKeptAndShownAsAtSigns) {
    const unix_endpoint a = unix_endpoint::abstract(std::string_view("a\0b", 3));
    EXPECT_EQ(a.name().size(), 3u);
    EXPECT_EQ(a.to_string(), "@a@b");
}

TEST(UnixEndpoint, APathTooLongForSunPathIsRejectedNamingIt) {
    const std::string ok(unix_endpoint::max_length, 'p');
    EXPECT_NO_THROW(unix_endpoint{ok});
    const std::string bad(unix_endpoint::max_length + 1, 'p');
    try {
        (void)unix_endpoint(bad);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("108 bytes long"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("at most 107"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)unix_endpoint("@" + bad), std::invalid_argument);
}

TEST(UnixEndpoint, EmptyPathsAndEmbeddedNulsAreRejected) {
    EXPECT_THROW(unix_endpoint{""}, std::invalid_argument);
    EXPECT_THROW(unix_endpoint(std::string_view("/tmp/a\0b", 8)), std::invalid_argument);
}

TEST(UnixEndpoint, TheDefaultIsUnnamedAndSoIsAnEmptySockaddr) {
    EXPECT_TRUE(unix_endpoint().is_unnamed());
    sockaddr_storage ss;
    const socklen_t len = unix_endpoint().to_sockaddr(ss);
    EXPECT_TRUE(unix_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len).is_unnamed());
    const socket_address a(unix_endpoint("/x"));
    EXPECT_TRUE(a.is_unix());
    EXPECT_EQ(a.to_unix_endpoint().name(), "/x");
    EXPECT_EQ(a.to_string(), "/x");
}

} // namespace

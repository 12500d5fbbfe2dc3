#include "corio/net/endpoint.hpp"
#include "corio/net/socket_address.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <stdexcept>
#include <string>

namespace {

using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::socket_address;

TEST(Endpoint, TextRoundTripsForBothFamilies) {
    for (const char* text : {"127.0.0.1:80", "0.0.0.0:0", "[::1]:443", "[2001:db8::1]:65535"}) {
        EXPECT_EQ(endpoint::parse(text).to_string(), text);
    }
    EXPECT_EQ(endpoint(ip_address::v6_loopback(), 80).to_string(), "[::1]:80");
}

TEST(Endpoint, BadTextThrowsInvalidArgumentNamingIt) {
    for (const char* text : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:80",
                             "[::1]80", "[::1]", "[127.0.0.1]:80", "host:80", "1.2.3.4:8x"}) {
        try {
            (void)endpoint::parse(text);
            ADD_FAILURE() << "parsed: " << text;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        }
    }
}

TEST(Endpoint, SockaddrRoundTripsForBothFamilies) {
    for (const char* text : {"192.0.2.1:8080", "[2001:db8::5]:53"}) {
        const endpoint e = endpoint::parse(text);
        sockaddr_storage ss;
        const socklen_t len = e.to_sockaddr(ss);
        EXPECT_EQ(len, e.is_v4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
        EXPECT_EQ(ss.ss_family, e.family());
        EXPECT_EQ(endpoint::from_sockaddr(ss, len), e);
    }
}

TEST(Endpoint, PortIsInNetworkOrderInTheSockaddr) {
    sockaddr_storage ss;
    endpoint(ip_address::v4_loopback(), 0x1234).to_sockaddr(ss);
    EXPECT_EQ(reinterpret_cast<sockaddr_in&>(ss).sin_port, htons(0x1234));
}

TEST(Endpoint, AnotherFamilyOrAShortLengthIsRejected) {
    sockaddr_storage ss{};
    ss.ss_family = AF_UNIX;
    EXPECT_THROW((void)endpoint::from_sockaddr(ss, sizeof ss), std::invalid_argument);
    ss.ss_family = AF_INET6;
    EXPECT_THROW((void)endpoint::from_sockaddr(ss, sizeof(sockaddr_in)), std::invalid_argument);
}

TEST(Endpoint, ScopeIdSurvivesTheSockaddr) {
    const endpoint e(ip_address::parse("fe80::1%1"), 22);
    sockaddr_storage ss;
    const socklen_t len = e.to_sockaddr(ss);
    EXPECT_EQ(reinterpret_cast<sockaddr_in6&>(ss).sin6_scope_id, 1u);
    EXPECT_EQ(endpoint::from_sockaddr(ss, len), e);
}

TEST(SocketAddress, ConvertsBetweenEndpointAndRawForm) {
    const endpoint e = endpoint::parse("[::1]:9");
    const socket_address a(e);
    EXPECT_TRUE(a.is_ip());
    EXPECT_FALSE(a.is_unix());
    EXPECT_EQ(a.family(), AF_INET6);
    EXPECT_EQ(a.to_endpoint(), e);
    EXPECT_EQ(a.to_string(), "[::1]:9");
    EXPECT_THROW((void)a.to_unix_endpoint(), std::invalid_argument);
    EXPECT_EQ(socket_address().family(), AF_UNSPEC);
}

} // namespace

#include "corio/net/ip_address.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <unordered_set>

namespace {

using corio::net::ip_address;

TEST(IpAddress, DottedQuadTextRoundTrips) {
    for (const char* text : {"0.0.0.0", "127.0.0.1", "192.0.2.1", "255.255.255.255"}) {
        const ip_address a = ip_address::parse(text);
        EXPECT_TRUE(a.is_v4()) << text;
        EXPECT_EQ(a.to_string(), text);
    }
}

TEST(IpAddress, Ipv6TextIsPrintedInTheCanonicalShortForm) {
    EXPECT_EQ(ip_address::parse("2001:0db8:0000:0000:0000:0000:0000:0001").to_string(),
              "2001:db8::1");
    EXPECT_EQ(ip_address::parse("::1").to_string(), "::1");
    EXPECT_EQ(ip_address::parse("::").to_string(), "::");
    EXPECT_EQ(ip_address::parse("::ffff:1.2.3.4").to_string(), "::ffff:1.2.3.4");
    EXPECT_TRUE(ip_address::parse("fe80::1").is_v6());
}

TEST(IpAddress, ANumericScopeIdIsKeptAndPrinted) {
    const ip_address a = ip_address::parse("fe80::1%1");
    EXPECT_EQ(a.scope_id(), 1u);
    // Interface 1 is the loopback interface, printed by name when it has one.
    const std::string s = a.to_string();
    EXPECT_TRUE(s == "fe80::1%lo" || s == "fe80::1%1") << s;
    EXPECT_EQ(ip_address::parse(s), a);
}

TEST(IpAddress, AnInterfaceNameScopeIsResolvedToItsIndex) {
    EXPECT_EQ(ip_address::parse("fe80::1%lo").scope_id(), 1u);
}

TEST(IpAddress, BadTextThrowsInvalidArgumentNamingIt) {
    for (const char* text :
         {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4x", " 1.2.3.4", "1.2.3.4 ", "example.com",
          "::g", "1::2::3", "fe80::1%nosuchif0", "[::1]", "0x7f.1"}) {
        try {
            (void)ip_address::parse(text);
            ADD_FAILURE() << "parsed: " << text;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("\"" + std::string(text) + "\""),
                      std::string::npos)
                << e.what();
        }
        EXPECT_FALSE(ip_address::try_parse(text).has_value()) << text;
    }
}

TEST(IpAddress, ControlBytesInBadTextAreEscapedInTheMessage) {
    try {
        (void)ip_address::parse(std::string("1.2\n", 4));
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("\"1.2\\x0a\""), std::string::npos) << e.what();
    }
}

TEST(IpAddress, ClassifiesLoopbackAnyAndMulticast) {
    EXPECT_TRUE(ip_address::parse("127.0.0.1").is_loopback());
    EXPECT_TRUE(ip_address::parse("127.255.0.9").is_loopback());
    EXPECT_TRUE(ip_address::parse("::1").is_loopback());
    EXPECT_TRUE(ip_address::parse("::ffff:127.0.0.1").is_loopback());
    EXPECT_FALSE(ip_address::parse("128.0.0.1").is_loopback());
    EXPECT_FALSE(ip_address::parse("::2").is_loopback());

    EXPECT_TRUE(ip_address::parse("0.0.0.0").is_any());
    EXPECT_TRUE(ip_address::parse("::").is_any());
    EXPECT_FALSE(ip_address::parse("::1").is_any());
    EXPECT_TRUE(ip_address().is_any());
    EXPECT_TRUE(ip_address().is_v4());

    EXPECT_TRUE(ip_address::parse("224.0.0.1").is_multicast());
    EXPECT_TRUE(ip_address::parse("239.255.255.250").is_multicast());
    EXPECT_FALSE(ip_address::parse("240.0.0.1").is_multicast());
    EXPECT_TRUE(ip_address::parse("ff02::1").is_multicast());
}

TEST(IpAddress, NamedConstantsMatchTheirText) {
    EXPECT_EQ(ip_address::v4_loopback(), ip_address::parse("127.0.0.1"));
    EXPECT_EQ(ip_address::v6_loopback(), ip_address::parse("::1"));
    EXPECT_EQ(ip_address::v4_any(), ip_address::parse("0.0.0.0"));
    EXPECT_EQ(ip_address::v6_any(), ip_address::parse("::"));
    EXPECT_EQ(ip_address::v4(0xc0000201u), ip_address::parse("192.0.2.1"));
    EXPECT_EQ(ip_address::parse("192.0.2.1").v4_uint(), 0xc0000201u);
}

TEST(IpAddress, AMappedAddressUnmapsToItsIpv4Address) {
    const ip_address m = ip_address::parse("::ffff:192.0.2.1");
    EXPECT_TRUE(m.is_v4_mapped());
    EXPECT_EQ(m.unmapped(), ip_address::parse("192.0.2.1"));
    EXPECT_NE(m, ip_address::parse("192.0.2.1")); // different families
    EXPECT_EQ(ip_address::parse("192.0.2.1").v6_bytes(), m.v6_bytes());
}

TEST(IpAddress, OrdersIpv4BeforeIpv6AndHashesConsistently) {
    const ip_address a = ip_address::parse("10.0.0.1");
    const ip_address b = ip_address::parse("10.0.0.2");
    const ip_address c = ip_address::parse("::1");
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    std::unordered_set<ip_address> set{a, b, c, ip_address::parse("10.0.0.1")};
    EXPECT_EQ(set.size(), 3u);
}

} // namespace

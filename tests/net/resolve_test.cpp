#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/net/dns_error.hpp"
#include "corio/net/resolve.hpp"
#include "corio/runtime/event_loop.hpp"

#include "net/net_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <netdb.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using corio::task;
using corio::net::dns_error;
using corio::net::endpoint;
using corio::net::resolve;
using corio::net::resolve_options;
using corio::test::run_virtual;

/// The threads of this process (from /proc/self/task).
std::size_t thread_count() {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
        (void)e;
        ++n;
    }
    return n;
}

TEST(Resolve, AnIpv4LiteralResolvesOnTheLoopWithoutAThread) {
    const std::size_t threads = thread_count();
    auto eps = run_virtual(
        []() -> task<std::vector<endpoint>> { co_return co_await resolve("192.0.2.7", 8080); }());
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0], endpoint::parse("192.0.2.7:8080"));
    EXPECT_EQ(thread_count(), threads);
}

TEST(Resolve, AnIpv6LiteralWithANumericServiceResolvesOnTheLoop) {
    auto eps = run_virtual([]() -> task<std::vector<endpoint>> {
        co_return co_await resolve("2001:db8::1", "443");
    }());
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].to_string(), "[2001:db8::1]:443");
}

TEST(Resolve, ALiteralOfTheWrongFamilyIsAnAddressFamilyError) {
    auto code = run_virtual([]() -> task<int> {
        try {
            resolve_options o;
            o.family = AF_INET6;
            (void)co_await resolve("127.0.0.1", 80, o);
        } catch (const dns_error& e) {
            EXPECT_EQ(e.code(), std::error_code(EAI_ADDRFAMILY, corio::net::gai_category()));
            co_return e.gai_code();
        }
        co_return 0;
    }());
    EXPECT_EQ(code, EAI_ADDRFAMILY);
}

TEST(Resolve, ANameUnderInvalidFailsAtOnceNamingTheHost) {
    const auto start = std::chrono::steady_clock::now();
    auto r = run_virtual([]() -> task<std::pair<std::error_code, std::string>> {
        try {
            (void)co_await resolve("no-such-host.invalid", 80);
        } catch (const dns_error& e) {
            EXPECT_EQ(e.host(), "no-such-host.invalid");
            co_return std::pair(e.code(), std::string(e.what()));
        }
        co_return std::pair(std::error_code(), std::string());
    }());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    EXPECT_EQ(r.first, std::error_code(EAI_NONAME, corio::net::gai_category()));
    EXPECT_EQ(r.second,
              "resolve no-such-host.invalid port 80: " + std::string(::gai_strerror(EAI_NONAME)));
}

TEST(Resolve, TheInvalidDomainMatchesWholeLabelsOnly) {
    // "notinvalid" is an ordinary (unresolvable here) name: it goes to the resolver, which also
    // fails, but "INVALID." and "x.Invalid" are caught by the rule.
    for (const char* host : {"INVALID.", "x.Invalid", "a.b.invalid"}) {
        auto code = run_virtual([](std::string h) -> task<int> {
            try {
                (void)co_await resolve(h, 1);
            } catch (const dns_error& e) {
                co_return e.gai_code();
            }
            co_return 0;
        }(host));
        EXPECT_EQ(code, EAI_NONAME) << host;
    }
}

TEST(Resolve, GaiCategoryMessagesAreGaiStrerror) {
    EXPECT_EQ(corio::net::gai_category().message(EAI_AGAIN), ::gai_strerror(EAI_AGAIN));
    EXPECT_STREQ(corio::net::gai_category().name(), "getaddrinfo");
}

TEST(ResolveThread, LocalhostResolvesToLoopbackOnAWorkerThread) {
    auto eps = run_virtual(
        []() -> task<std::vector<endpoint>> { co_return co_await resolve("localhost", 7); }());
    ASSERT_FALSE(eps.empty());
    for (const endpoint& e : eps) {
        EXPECT_TRUE(e.address().is_loopback()) << e.to_string();
        EXPECT_EQ(e.port(), 7);
    }
    // Distinct: SOCK_STREAM hints give one entry per address.
    auto sorted = eps;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
}

TEST(ResolveThread, AServiceNameIsLookedUp) {
    auto eps = run_virtual([]() -> task<std::vector<endpoint>> {
        resolve_options o;
        o.family = AF_INET;
        co_return co_await resolve("127.0.0.1", "http", o);
    }());
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0], endpoint::parse("127.0.0.1:80"));
}

TEST(ResolveThread, AnUnknownServiceFailsNamingIt) {
    auto what = run_virtual([]() -> task<std::string> {
        try {
            (void)co_await resolve("localhost", "no-such-service-corio");
        } catch (const dns_error& e) {
            co_return e.what();
        }
        co_return "";
    }());
    EXPECT_NE(what.find("resolve localhost service no-such-service-corio"), std::string::npos)
        << what;
}

TEST(ResolveThread, CancellingALookupStopsTheWaitAtOnce) {
    const std::size_t threads = thread_count();
    auto cancelled = run_virtual([]() -> task<bool> {
        auto h = corio::create_task(resolve("localhost", 80));
        // The child runs first and parks with its lookup on a thread; the loop cannot deliver
        // the answer before it polls, which is after this task has run.
        co_await corio::sleep(std::chrono::seconds(0));
        EXPECT_FALSE(h.done());
        h.cancel();
        try {
            (void)co_await h;
        } catch (const corio::cancelled_error&) {
            co_return true;
        }
        co_return false;
    }());
    EXPECT_TRUE(cancelled);
    // The abandoned lookup finishes on its thread; wait for it, so that the files it opens do
    // not show up in the fd counts of later tests.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (thread_count() > threads && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

} // namespace

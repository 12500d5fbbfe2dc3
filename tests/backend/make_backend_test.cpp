// Choosing a backend at run time: make_backend's names, CORIO_BACKEND, the io_uring fallback,
// CORIO_IO_URING_SENDS, available_backends(), and the event loop's use of them. (The epoll-specific
// names and CORIO_EPOLL_MODE are checked in epoll_backend_test.cpp.)

#include "corio/runtime/event_loop.hpp"

#include "backend/backend.hpp"
#include "support/scoped_env.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::test::scoped_env;

bool available(const std::string& name) {
    const std::vector<std::string> names = corio::detail::available_backends();
    return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(MakeBackend, AvailableBackendsListsEpollAndPollAndEachCanBeCreated) {
    const std::vector<std::string> names = corio::detail::available_backends();
    EXPECT_TRUE(available("epoll"));
    EXPECT_TRUE(available("poll"));
    for (const std::string& name : names) {
        SCOPED_TRACE(name);
        EXPECT_EQ(corio::detail::make_backend(name)->name(), name);
    }
}

TEST(MakeBackend, PollIsCreatedByNameAndThroughCorioBackend) {
    EXPECT_STREQ(corio::detail::make_backend("poll")->name(), "poll");
    const scoped_env env("CORIO_BACKEND", "poll");
    EXPECT_STREQ(corio::detail::make_backend("")->name(), "poll");
    EXPECT_STREQ(corio::detail::make_backend("epoll")->name(), "epoll") << "a name beats the "
                                                                           "environment";
}

TEST(MakeBackend, AnUnknownNameListsTheAvailableOnes) {
    try {
        (void)corio::detail::make_backend("kqueue");
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("'kqueue'"), std::string::npos) << what;
        for (const char* name : {"epoll", "epoll-et", "epoll-lt", "poll"})
            EXPECT_NE(what.find(name), std::string::npos) << name << " missing from: " << what;
        if (available("io_uring")) {
            for (const char* name : {"io_uring-direct", "io_uring-queued"})
                EXPECT_NE(what.find(name), std::string::npos) << name << " missing from: " << what;
        }
    }
}

TEST(MakeBackend, IoUringIsCreatedWhenAvailableAndOtherwiseFallsBackToEpoll) {
    const char* expected = available("io_uring") ? "io_uring" : "epoll";
    EXPECT_STREQ(corio::detail::make_backend("io_uring")->name(), expected);
    const scoped_env env("CORIO_BACKEND", "io_uring");
    EXPECT_STREQ(corio::detail::make_backend("")->name(), expected);
}

TEST(MakeBackend, IoUringStreamsMakeSendCallsUnlessQueuedSendsAreAskedFor) {
    if (!available("io_uring"))
        GTEST_SKIP() << "io_uring is not available here";
    const scoped_env unset("CORIO_IO_URING_SENDS", nullptr);
    EXPECT_FALSE(corio::detail::make_backend("io_uring")->caps().queued_sends) << "the default";
    EXPECT_FALSE(corio::detail::make_backend("io_uring-direct")->caps().queued_sends);
    EXPECT_TRUE(corio::detail::make_backend("io_uring-queued")->caps().queued_sends);
    {
        const scoped_env env("CORIO_IO_URING_SENDS", "queued");
        EXPECT_TRUE(corio::detail::make_backend("io_uring")->caps().queued_sends);
        EXPECT_FALSE(corio::detail::make_backend("io_uring-direct")->caps().queued_sends)
            << "a suffixed name beats the environment";
    }
    const scoped_env env("CORIO_IO_URING_SENDS", "sideways");
    try {
        (void)corio::detail::make_backend("io_uring");
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        for (const char* part : {"CORIO_IO_URING_SENDS", "'sideways'", "direct", "queued"})
            EXPECT_NE(what.find(part), std::string::npos) << part << " missing from: " << what;
    }
}

TEST(MakeBackend, EveryIoUringNameFallsBackToEpollWhereIoUringIsUnavailable) {
    const char* expected = available("io_uring") ? "io_uring" : "epoll";
    for (const char* name : {"io_uring", "io_uring-direct", "io_uring-queued"}) {
        SCOPED_TRACE(name);
        EXPECT_STREQ(corio::detail::make_backend(name)->name(), expected);
    }
}

TEST(MakeBackend, MakeIoUringBackendDoesNotFallBack) {
    if (available("io_uring")) {
        EXPECT_STREQ(corio::detail::make_io_uring_backend()->name(), "io_uring");
    } else {
        EXPECT_THROW((void)corio::detail::make_io_uring_backend(), std::system_error);
    }
}

TEST(MakeBackend, AnEventLoopWithoutABackendOptionUsesCorioBackend) {
    {
        const scoped_env env("CORIO_BACKEND", "poll");
        corio::event_loop loop;
        EXPECT_STREQ(loop.backend_name(), "poll");
    }
    {
        const scoped_env unset("CORIO_BACKEND", nullptr);
        corio::event_loop loop;
        EXPECT_STREQ(loop.backend_name(), "epoll") << "the default";
    }
    const scoped_env env("CORIO_BACKEND", "epoll");
    corio::loop_options options;
    options.backend = "poll";
    corio::event_loop loop(options);
    EXPECT_STREQ(loop.backend_name(), "poll") << "the option beats the environment";
}

} // namespace

#include "corio/http/router.hpp"
#include "corio/runtime/event_loop.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace http = corio::http;

namespace {

// A handler that answers with `name`, so a test sees which route ran.
http::handler named(std::string name) {
    return [name](http::request&) -> corio::task<http::response> {
        co_return http::response::text(200, name);
    };
}

std::string run_dispatch(const http::router& r, http::request& req) {
    corio::event_loop loop;
    corio::task<http::response> t = r.dispatch(req);
    http::response resp = loop.run_until_complete(std::move(t));
    return std::to_string(resp.status) + " " + resp.body;
}

} // namespace

TEST(Router, RunsTheHandlerOfTheMatchingMethodAndPath) {
    http::router r;
    r.get("/", named("root")).get("/users", named("list")).post("/users", named("create"));
    http::request a("GET", "/users");
    http::request b("POST", "/users");
    http::request c("GET", "/");
    EXPECT_EQ(run_dispatch(r, a), "200 list");
    EXPECT_EQ(run_dispatch(r, b), "200 create");
    EXPECT_EQ(run_dispatch(r, c), "200 root");
}

TEST(Router, AnswersAPathNoRouteMatchesWith404) {
    http::router r;
    r.get("/users", named("list"));
    http::request req("GET", "/nobody");
    http::router::match_result m = r.match(req);
    EXPECT_EQ(m.target, nullptr);
    EXPECT_EQ(m.status, 404);
    EXPECT_EQ(run_dispatch(r, req), "404 404 Not Found\n");
}

TEST(Router, AnswersAWrongMethodWith405ListingTheAllowedOnes) {
    http::router r;
    r.get("/users", named("list")).post("/users", named("create")).del("/users/{id}", named("x"));
    http::request req("PUT", "/users");
    http::router::match_result m = r.match(req);
    EXPECT_EQ(m.status, 405);
    EXPECT_EQ(m.allow, "GET, POST, HEAD");
    corio::event_loop loop;
    corio::task<http::response> t = r.dispatch(req);
    http::response resp = loop.run_until_complete(std::move(t));
    EXPECT_EQ(resp.status, 405);
    EXPECT_EQ(resp.headers.get("Allow").value_or(""), "GET, POST, HEAD");
}

TEST(Router, ReadsPathParametersByName) {
    http::router r;
    r.get("/users/{id}/posts/{post}", named("post"));
    http::request req("GET", "/users/42/posts/7?full=1");
    http::router::match_result m = r.match(req);
    ASSERT_NE(m.target, nullptr);
    EXPECT_EQ(req.param("id"), "42");
    EXPECT_EQ(req.param("post"), "7");
    EXPECT_EQ(req.param("missing"), "");
    EXPECT_EQ(req.path(), "/users/42/posts/7");
    EXPECT_EQ(req.query(), "full=1");
}

TEST(Router, AParameterMatchesExactlyOneNonEmptySegment) {
    http::router r;
    r.get("/users/{id}", named("user"));
    http::request empty("GET", "/users/");
    http::request deeper("GET", "/users/1/2");
    http::request shorter("GET", "/users");
    EXPECT_EQ(r.match(empty).status, 404);
    EXPECT_EQ(r.match(deeper).status, 404);
    EXPECT_EQ(r.match(shorter).status, 404);
}

TEST(Router, ATrailingStarMatchesTheRestOfThePath) {
    http::router r;
    r.get("/static/*", named("static"));
    http::request deep("GET", "/static/css/site.css");
    http::request bare("GET", "/static/");
    http::request other("GET", "/staticx");
    ASSERT_NE(r.match(deep).target, nullptr);
    EXPECT_EQ(deep.param("*"), "css/site.css");
    ASSERT_NE(r.match(bare).target, nullptr);
    EXPECT_EQ(bare.param("*"), "");
    EXPECT_EQ(r.match(other).status, 404);
}

TEST(Router, HeadIsAnsweredByTheGetRouteUnlessThereIsAHeadRoute) {
    http::router r;
    r.get("/a", named("get a")).get("/b", named("get b")).route("HEAD", "/b", named("head b"));
    http::request a("HEAD", "/a");
    http::request b("HEAD", "/b");
    EXPECT_EQ(run_dispatch(r, a), "200 get a");
    EXPECT_EQ(run_dispatch(r, b), "200 head b");
}

TEST(Router, TheFirstMatchingRouteWins) {
    http::router r;
    r.get("/users/me", named("me")).get("/users/{id}", named("user"));
    http::request me("GET", "/users/me");
    http::request other("GET", "/users/5");
    EXPECT_EQ(run_dispatch(r, me), "200 me");
    EXPECT_EQ(run_dispatch(r, other), "200 user");
}

TEST(Router, AStarMethodMatchesEveryMethod) {
    http::router r;
    r.route("*", "/any", named("any"));
    http::request req("PATCH", "/any");
    EXPECT_EQ(run_dispatch(r, req), "200 any");
}

TEST(Router, RefusesMalformedPatterns) {
    http::router r;
    EXPECT_THROW(r.get("users", named("x")), std::invalid_argument);
    EXPECT_THROW(r.get("/a/{}", named("x")), std::invalid_argument);
    EXPECT_THROW(r.get("/a/*/b", named("x")), std::invalid_argument);
    EXPECT_THROW(r.route("GET", "/a", http::handler{}), std::invalid_argument);
    EXPECT_EQ(r.size(), 0u);
}

TEST(Router, MatchingReusesTheRequestsParameterStorage) {
    http::router r;
    r.get("/users/{id}", named("user"));
    http::request req("GET", "/users/1");
    ASSERT_NE(r.match(req).target, nullptr);
    ASSERT_NE(r.match(req).target, nullptr); // parameters replaced, not appended
    EXPECT_EQ(req.params().size(), 1u);
}

TEST(Request, BuiltFromPartsExposesHeadersAsViewsAndAsAList) {
    http::request req("POST", "/x?y=1",
                      {{"Host", "example.com"}, {"X-Twice", "1"}, {"x-twice", "2"}}, "body");
    EXPECT_EQ(req.method(), "POST");
    EXPECT_EQ(req.header("host"), "example.com");
    EXPECT_EQ(req.header("X-TWICE"), "1");
    EXPECT_EQ(req.headers().get_all("x-twice").size(), 2u);
    EXPECT_EQ(req.body(), "body");
    EXPECT_TRUE(req.keep_alive());
}

TEST(Response, FactoriesSetTheContentTypeWhichTheHeadersOverride) {
    http::response t = http::response::text(200, "hi");
    EXPECT_EQ(t.content_type(), "text/plain; charset=utf-8");
    http::response j = http::response::json(201, "{}");
    EXPECT_EQ(j.content_type(), "application/json");
    j.set_content_type("application/problem+json");
    EXPECT_EQ(j.content_type(), "application/problem+json");
    EXPECT_EQ(http::response(204).content_type(), "");
    EXPECT_EQ(http::reason_phrase(404), "Not Found");
    EXPECT_EQ(http::reason_phrase(799), "Unknown");
}

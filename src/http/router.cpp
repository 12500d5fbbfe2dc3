#include "corio/http/router.hpp"

#include <stdexcept>

namespace corio::http {

router& router::route(std::string_view method, std::string_view pattern, handler h) {
    if (pattern.empty() || pattern.front() != '/')
        throw std::invalid_argument("corio::http::router: a pattern starts with '/': " +
                                    std::string(pattern));
    if (!h)
        throw std::invalid_argument("corio::http::router: empty handler for " +
                                    std::string(pattern));
    route_entry r;
    r.method = std::string(method);
    r.fn = std::move(h);
    std::string_view rest = pattern.substr(1);
    for (;;) {
        const auto slash = rest.find('/');
        const std::string_view seg = rest.substr(0, slash);
        segment s;
        if (seg == "*") {
            if (slash != std::string_view::npos)
                throw std::invalid_argument("corio::http::router: '*' must be the last segment: " +
                                            std::string(pattern));
            s.kind = segment::rest;
            s.text = "*";
        } else if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
            if (seg.size() == 2)
                throw std::invalid_argument("corio::http::router: empty parameter name in " +
                                            std::string(pattern));
            s.kind = segment::param;
            s.text = std::string(seg.substr(1, seg.size() - 2));
        } else {
            s.text = std::string(seg);
        }
        r.segments.push_back(std::move(s));
        if (slash == std::string_view::npos)
            break;
        rest = rest.substr(slash + 1);
    }
    m_routes.push_back(std::move(r));
    return *this;
}

bool router::match_path(const route_entry& r, std::string_view path, request* req) {
    if (path.empty() || path.front() != '/')
        return false;
    std::string_view rest = path.substr(1);
    const std::size_t n = r.segments.size();
    for (std::size_t i = 0; i < n; ++i) {
        const segment& s = r.segments[i];
        if (s.kind == segment::rest) {
            if (req)
                req->emplace_param(s.text, rest);
            return true;
        }
        const auto slash = rest.find('/');
        const std::string_view seg = rest.substr(0, slash);
        const bool last = i + 1 == n;
        // The pattern's last segment must end the path, and the others must not.
        if (last != (slash == std::string_view::npos))
            return false;
        if (s.kind == segment::param) {
            if (seg.empty())
                return false;
            if (req)
                req->emplace_param(s.text, seg);
        } else if (seg != s.text) {
            return false;
        }
        if (!last)
            rest = rest.substr(slash + 1);
    }
    return true;
}

router::match_result router::match(request& req) const {
    const std::string_view method = req.method();
    const std::string_view path = req.path();
    const bool head = method == "HEAD";
    const route_entry* get_for_head = nullptr;
    bool path_matched = false;
    for (const route_entry& r : m_routes) {
        const bool method_ok = r.method == method || r.method == "*";
        if (!method_ok && !(head && r.method == "GET" && !get_for_head)) {
            path_matched = path_matched || match_path(r, path, nullptr);
            continue;
        }
        req.clear_params();
        if (!match_path(r, path, &req))
            continue;
        if (method_ok)
            return {&r.fn, 200, {}};
        get_for_head = &r; // HEAD: keep looking for an explicit HEAD route first
    }
    if (get_for_head) {
        req.clear_params();
        match_path(*get_for_head, path, &req);
        return {&get_for_head->fn, 200, {}};
    }
    req.clear_params();
    if (!path_matched)
        return {nullptr, 404, {}};
    match_result out{nullptr, 405, {}};
    bool has_get = false, has_head = false;
    std::vector<std::string_view> seen;
    for (const route_entry& r : m_routes) {
        if (!match_path(r, path, nullptr))
            continue;
        bool dup = false;
        for (std::string_view s : seen)
            dup = dup || s == r.method;
        if (dup)
            continue;
        seen.push_back(r.method);
        has_get = has_get || r.method == "GET";
        has_head = has_head || r.method == "HEAD";
    }
    if (has_get && !has_head)
        seen.push_back("HEAD");
    for (std::string_view s : seen) {
        if (!out.allow.empty())
            out.allow += ", ";
        out.allow += s;
    }
    return out;
}

task<response> router::dispatch(request& req) const {
    match_result m = match(req);
    if (m.target) {
        task<response> t = (*m.target)(req);
        co_return co_await std::move(t);
    }
    if (m.status == 405) {
        response r = response::text(405, "405 Method Not Allowed\n");
        r.headers.add("Allow", std::move(m.allow));
        co_return r;
    }
    co_return response::text(404, "404 Not Found\n");
}

} // namespace corio::http

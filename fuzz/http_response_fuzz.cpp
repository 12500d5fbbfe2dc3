// libFuzzer target: corio::http::parse_response_head.
//
// Invariants checked, beyond "no crash, no sanitizer report":
// - an error is a parse_error with status 502 (malformed), 431 (head over the limits) or 413
//   (Content-Length over max_body_bytes), and a message that starts with "corio::http: ";
// - a success takes at most the input and max_head_bytes, ends with CRLF CRLF, the reason and
//   every field lie inside the bytes it took, the status is 100-999, the body kind follows RFC
//   9112 §6.3 (HEAD, 1xx, 204, 304 and a 2xx to CONNECT: none; until_close: not keep-alive);
// - parsing exactly the head gives the same result, one byte less gives 0;
// - parsing a prefix gives 0, or the same error, or the same result as the whole input.

#include <corio/http/headers.hpp>
#include <corio/http/parser.hpp>

#include "fuzz_common.hpp"

#include <string>
#include <string_view>

namespace {

using corio::http::body_kind;
using corio::http::parse_error;
using corio::http::parse_limits;
using corio::http::response_head;
using corio_fuzz::outcome;

outcome parse(std::string_view in, std::string_view method, const parse_limits& limits,
              response_head& h) {
    outcome o;
    try {
        o.consumed = corio::http::parse_response_head(in, h, method, limits);
    } catch (const parse_error& e) {
        const int s = e.status();
        CORIO_FUZZ_CHECK(s == 502 || s == 431 || s == 413);
        CORIO_FUZZ_CHECK(std::string_view(e.what()).substr(0, 13) == "corio::http: ");
        o.status = s;
        return o;
    }
    if (o.consumed == 0)
        return o;
    const char* base = in.data();
    o.fields = std::to_string(h.version_minor) + " " + std::to_string(h.status) + " " +
               corio_fuzz::offset_of(h.reason, base) + "|";
    o.fields += corio_fuzz::describe_fields(h.headers, base);
    o.fields += std::to_string(static_cast<int>(h.body)) + " " + std::to_string(h.content_length) +
                " " + std::to_string(h.keep_alive);
    return o;
}

void check_head(std::string_view in, std::size_t n, std::string_view method, const response_head& h,
                const parse_limits& limits) {
    CORIO_FUZZ_CHECK(n <= in.size());
    CORIO_FUZZ_CHECK(n <= limits.max_head_bytes);
    CORIO_FUZZ_CHECK(n >= 4 && in.substr(n - 4, 4) == "\r\n\r\n");
    const char* base = in.data();
    CORIO_FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
    CORIO_FUZZ_CHECK(h.status >= 100 && h.status <= 999);
    CORIO_FUZZ_CHECK(corio_fuzz::inside(h.reason, base, n));
    for (unsigned char c : h.reason)
        CORIO_FUZZ_CHECK(c >= 0x20 ? c != 0x7F : c == '\t');
    CORIO_FUZZ_CHECK(h.headers.size() <= limits.max_header_count);
    bool te = false, cl = false;
    for (const auto& f : h.headers) {
        CORIO_FUZZ_CHECK(corio_fuzz::valid_name(f.name) && corio_fuzz::inside(f.name, base, n));
        CORIO_FUZZ_CHECK(corio_fuzz::valid_value(f.value) && corio_fuzz::inside(f.value, base, n));
        te = te || corio::http::iequals(f.name, "transfer-encoding");
        cl = cl || corio::http::iequals(f.name, "content-length");
    }
    CORIO_FUZZ_CHECK(!(te && cl));
    const bool no_body = method == "HEAD" || h.status < 200 || h.status == 204 || h.status == 304 ||
                         (method == "CONNECT" && h.status < 300);
    if (no_body)
        CORIO_FUZZ_CHECK(h.body == body_kind::none && h.content_length == 0);
    else if (te)
        CORIO_FUZZ_CHECK(h.body == body_kind::chunked && h.version_minor == 1);
    else if (cl)
        CORIO_FUZZ_CHECK(h.body == body_kind::content_length &&
                         h.content_length <= limits.max_body_bytes);
    else
        CORIO_FUZZ_CHECK(h.body == body_kind::until_close && !h.keep_alive);
}

void run(std::string_view in, std::string_view method, const parse_limits& limits,
         std::uint64_t seed) {
    response_head h;
    const outcome whole = parse(in, method, limits, h);
    if (whole.consumed > 0) {
        check_head(in, whole.consumed, method, h, limits);
        response_head again;
        const corio_fuzz::exact_copy exact(in.substr(0, whole.consumed));
        const corio_fuzz::exact_copy shorter(in.substr(0, whole.consumed - 1));
        const outcome same = parse(exact.view(), method, limits, again);
        CORIO_FUZZ_CHECK(same == whole);
        CORIO_FUZZ_CHECK(parse(shorter.view(), method, limits, again) == outcome{});
    }
    corio_fuzz::check_prefixes(in, seed, whole, [&](std::string_view prefix) {
        response_head p;
        return parse(prefix, method, limits, p);
    });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::uint64_t seed = corio_fuzz::hash(in);
    static constexpr std::string_view methods[] = {"GET", "HEAD", "CONNECT", "POST"};
    run(in, methods[seed % 4], parse_limits{}, seed >> 2);
    run(in, methods[(seed >> 32) % 4], corio_fuzz::tight_limits(seed >> 8, 64, 192, 8, 64),
        seed >> 34);
    return 0;
}

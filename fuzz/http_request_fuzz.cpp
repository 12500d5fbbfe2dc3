// libFuzzer target: corio::http::parse_request_head (and the chunked body it announces).
//
// Invariants checked, beyond "no crash, no sanitizer report":
// - an error is a parse_error with a documented status (400, 413, 431, 501, 505) and a message
//   that starts with "corio::http: ";
// - a success takes at most the input and max_head_bytes, ends with CRLF CRLF, and every view
//   lies inside the bytes it took; the method and names are tokens, values hold no CTL and no
//   surrounding OWS; the framing agrees with the fields (chunked: HTTP/1.1, no Content-Length;
//   an HTTP/1.1 request has exactly one Host);
// - parsing exactly the head gives the same result, one byte less gives 0;
// - parsing a prefix gives 0, or the same error, or the same result as the whole input;
// - the chunked body that follows decodes the same whole and split in two.

#include <corio/http/headers.hpp>
#include <corio/http/parser.hpp>

#include "fuzz_common.hpp"

#include <string>
#include <string_view>

namespace {

using corio::http::body_kind;
using corio::http::chunked_decoder;
using corio::http::parse_error;
using corio::http::parse_limits;
using corio::http::request_head;
using corio_fuzz::outcome;

outcome parse(std::string_view in, const parse_limits& limits, request_head& h) {
    outcome o;
    try {
        o.consumed = corio::http::parse_request_head(in, h, limits);
    } catch (const parse_error& e) {
        const int s = e.status();
        CORIO_FUZZ_CHECK(s == 400 || s == 413 || s == 431 || s == 501 || s == 505);
        CORIO_FUZZ_CHECK(std::string_view(e.what()).substr(0, 13) == "corio::http: ");
        o.status = s;
        return o;
    }
    if (o.consumed == 0)
        return o;
    const char* base = in.data();
    o.fields = corio_fuzz::offset_of(h.method, base) + " " + corio_fuzz::offset_of(h.target, base) +
               " " + std::to_string(h.version_minor) + "|";
    o.fields += corio_fuzz::describe_fields(h.headers, base);
    o.fields += std::to_string(static_cast<int>(h.body)) + " " + std::to_string(h.content_length) +
                " " + std::to_string(h.keep_alive) + std::to_string(h.expect_continue);
    return o;
}

void check_head(std::string_view in, std::size_t n, const request_head& h,
                const parse_limits& limits) {
    CORIO_FUZZ_CHECK(n <= in.size());
    CORIO_FUZZ_CHECK(n <= limits.max_head_bytes);
    CORIO_FUZZ_CHECK(n >= 4 && in.substr(n - 4, 4) == "\r\n\r\n");
    const char* base = in.data();
    CORIO_FUZZ_CHECK(corio_fuzz::valid_name(h.method) && corio_fuzz::inside(h.method, base, n));
    CORIO_FUZZ_CHECK(!h.target.empty() && corio_fuzz::inside(h.target, base, n));
    for (unsigned char c : h.target)
        CORIO_FUZZ_CHECK(c > 0x20 && c < 0x7F);
    CORIO_FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
    CORIO_FUZZ_CHECK(h.headers.size() <= limits.max_header_count);
    int hosts = 0;
    bool te = false, cl = false;
    for (const auto& f : h.headers) {
        CORIO_FUZZ_CHECK(corio_fuzz::valid_name(f.name) && corio_fuzz::inside(f.name, base, n));
        CORIO_FUZZ_CHECK(corio_fuzz::valid_value(f.value) && corio_fuzz::inside(f.value, base, n));
        hosts += corio::http::iequals(f.name, "host");
        te = te || corio::http::iequals(f.name, "transfer-encoding");
        cl = cl || corio::http::iequals(f.name, "content-length");
    }
    CORIO_FUZZ_CHECK(h.version_minor == 0 || hosts == 1);
    CORIO_FUZZ_CHECK(!(te && cl));
    switch (h.body) {
    case body_kind::chunked:
        CORIO_FUZZ_CHECK(te && h.version_minor == 1 && h.content_length == 0);
        break;
    case body_kind::content_length:
        CORIO_FUZZ_CHECK(cl && !te && h.content_length <= limits.max_body_bytes);
        break;
    case body_kind::none:
        CORIO_FUZZ_CHECK(!te && !cl && h.content_length == 0);
        break;
    default:
        CORIO_FUZZ_CHECK(false && "a request is never read until close");
    }
    if (h.expect_continue)
        CORIO_FUZZ_CHECK(h.version_minor == 1);
}

/// Decodes `in` as a chunked body, cut in two at `cut`; returns the outcome (body as fields).
outcome decode(std::string_view in, std::size_t cut, const parse_limits& limits) {
    outcome o;
    chunked_decoder d(limits);
    std::size_t pos = 0;
    try {
        for (std::size_t end : {cut, in.size()}) {
            while (pos < end && !d.done()) {
                const auto s = d.decode(in.substr(pos, end - pos));
                CORIO_FUZZ_CHECK(s.consumed <= end - pos);
                CORIO_FUZZ_CHECK(s.consumed > 0 || s.done);
                CORIO_FUZZ_CHECK(corio_fuzz::inside(s.data, in.data() + pos, s.consumed));
                o.fields.append(s.data);
                pos += s.consumed;
                CORIO_FUZZ_CHECK(s.done == d.done());
            }
        }
    } catch (const parse_error& e) {
        CORIO_FUZZ_CHECK(e.status() == 400 || e.status() == 413 || e.status() == 431);
        o.status = e.status();
    }
    CORIO_FUZZ_CHECK(o.status != 0 || d.body_bytes() == o.fields.size());
    CORIO_FUZZ_CHECK(d.body_bytes() <= limits.max_body_bytes);
    // After an error the bytes taken depend on where the input was cut (the call that threw
    // reports none); the error status and the body before it do not.
    o.consumed = o.status != 0 ? 0 : pos;
    o.fields += d.done() ? "|done" : "|open";
    return o;
}

void run(std::string_view in, const parse_limits& limits, std::uint64_t seed) {
    request_head h;
    const outcome whole = parse(in, limits, h);
    if (whole.consumed > 0) {
        check_head(in, whole.consumed, h, limits);
        // Exactly the head: the same; one byte less: not complete yet.
        request_head again;
        const corio_fuzz::exact_copy exact(in.substr(0, whole.consumed));
        const corio_fuzz::exact_copy shorter(in.substr(0, whole.consumed - 1));
        const outcome same = parse(exact.view(), limits, again);
        CORIO_FUZZ_CHECK(same == whole);
        CORIO_FUZZ_CHECK(parse(shorter.view(), limits, again) == outcome{});
        if (h.body == body_kind::chunked) {
            const std::string_view body = in.substr(whole.consumed);
            const outcome a = decode(body, body.size(), limits);
            const outcome b =
                decode(body, static_cast<std::size_t>(seed % (body.size() + 1)), limits);
            CORIO_FUZZ_CHECK(a == b);
        }
    }
    // A prefix gives 0, or the same.
    corio_fuzz::check_prefixes(in, seed, whole, [&](std::string_view prefix) {
        request_head p;
        return parse(prefix, limits, p);
    });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // libFuzzer's buffer is exactly `size` bytes already, so a read past its end is reported.
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::uint64_t seed = corio_fuzz::hash(in);
    run(in, parse_limits{}, seed);
    // Tight limits, so that the 431 and 413 paths are reached by small inputs too.
    run(in, corio_fuzz::tight_limits(seed, 64, 192, 8, 64), seed >> 24);
    return 0;
}

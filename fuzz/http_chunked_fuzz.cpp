// libFuzzer target: corio::http::chunked_decoder.
//
// Invariants checked, beyond "no crash, no sanitizer report":
// - an error is a parse_error with status 400, 413 or 431 and a message that starts with
//   "corio::http: ";
// - every call takes at most its input, takes at least one byte unless it is done (so a caller's
//   loop always ends), and returns body bytes that are a view inside what it took;
// - step.done agrees with done(), body_bytes() counts the body returned and stays within
//   max_body_bytes, and nothing is taken after done;
// - the input decoded whole, cut in two at any point, and fed one byte at a time gives the same
//   body, the same bytes taken, the same end state and the same error status.

#include <corio/http/parser.hpp>

#include "fuzz_common.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace {

using corio::http::chunked_decoder;
using corio::http::parse_error;
using corio::http::parse_limits;
using corio_fuzz::outcome;

/// Feeds `in` in pieces that end at `ends` (increasing, the last one in.size()); each piece
/// starts where the decoder stopped taking bytes, as a caller's buffer would.
outcome decode(std::string_view in, const std::vector<std::size_t>& ends,
               const parse_limits& limits) {
    outcome o;
    chunked_decoder d(limits);
    std::size_t pos = 0;
    try {
        for (const std::size_t end : ends) {
            if (pos >= end)
                continue;
            // Each piece is an exact heap copy: a read past its end is an ASan report.
            const corio_fuzz::exact_copy piece(in.substr(pos, end - pos));
            std::string_view rest = piece.view();
            while (!rest.empty()) {
                const auto s = d.decode(rest);
                CORIO_FUZZ_CHECK(s.consumed <= rest.size());
                CORIO_FUZZ_CHECK(s.consumed > 0 || s.done);
                CORIO_FUZZ_CHECK(corio_fuzz::inside(s.data, rest.data(), s.consumed));
                CORIO_FUZZ_CHECK(s.done == d.done());
                o.fields.append(s.data);
                pos += s.consumed;
                rest.remove_prefix(s.consumed);
                if (s.done) {
                    const auto after = d.decode(rest);
                    CORIO_FUZZ_CHECK(after.consumed == 0 && after.done && after.data.empty());
                    break;
                }
            }
            if (d.done())
                break;
        }
    } catch (const parse_error& e) {
        CORIO_FUZZ_CHECK(e.status() == 400 || e.status() == 413 || e.status() == 431);
        CORIO_FUZZ_CHECK(std::string_view(e.what()).substr(0, 13) == "corio::http: ");
        o.status = e.status();
    }
    CORIO_FUZZ_CHECK(d.body_bytes() == o.fields.size());
    CORIO_FUZZ_CHECK(d.body_bytes() <= limits.max_body_bytes);
    // After an error the bytes taken depend on where the input was cut (the call that threw
    // reports none); the error status and the body before it do not.
    o.consumed = o.status != 0 ? 0 : pos;
    o.fields += d.done() ? "|done" : "|open";
    return o;
}

void run(std::string_view in, const parse_limits& limits, std::uint64_t seed) {
    const outcome whole = decode(in, {in.size()}, limits);
    const std::size_t cut = static_cast<std::size_t>(seed % (in.size() + 1));
    const outcome two = decode(in, {cut, in.size()}, limits);
    CORIO_FUZZ_CHECK(two == whole);
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i <= in.size(); ++i)
        every.push_back(i);
    const outcome bytes = decode(in, every, limits);
    CORIO_FUZZ_CHECK(bytes == whole);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::uint64_t seed = corio_fuzz::hash(in);
    run(in, parse_limits{}, seed);
    run(in, corio_fuzz::tight_limits(seed >> 8, 16, 128, 4, 128), seed >> 32);
    return 0;
}

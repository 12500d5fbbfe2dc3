#pragma once
// Shared by the HTTP parser's fuzz targets: an invariant check that aborts (so libFuzzer saves
// the input), the outcome of one parse as a comparable value, and the bounds checks on views.

#include "corio/http/parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

/// Aborts with the failed condition when an invariant does not hold.
#define CORIO_FUZZ_CHECK(cond)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);     \
            std::abort();                                                                          \
        }                                                                                          \
    } while (false)

namespace corio_fuzz {

/// A heap copy of exactly the bytes of `s` (no terminating NUL, unlike std::string), so that
/// ASan reports a read one byte past the end.
class exact_copy {
  public:
    explicit exact_copy(std::string_view s) : m_bytes(new char[s.size()]), m_size(s.size()) {
        if (!s.empty())
            std::memcpy(m_bytes.get(), s.data(), s.size());
    }
    [[nodiscard]] std::string_view view() const noexcept { return {m_bytes.get(), m_size}; }

  private:
    std::unique_ptr<char[]> m_bytes;
    std::size_t m_size;
};

/// A cheap hash of the input, to pick split points and variants deterministically.
inline std::uint64_t hash(std::string_view s) noexcept {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s)
        h = (h ^ c) * 1099511628211ull;
    return h;
}

/// True if `v` lies inside [base, base + n).
inline bool inside(std::string_view v, const char* base, std::size_t n) noexcept {
    if (v.empty())
        return true;
    return v.data() >= base && v.data() + v.size() <= base + n;
}

/// The offset of a view into `base`, so that results of parses of different buffers (a prefix
/// copied elsewhere) compare equal.
inline std::string offset_of(std::string_view v, const char* base) {
    return v.empty() ? "-" : std::to_string(v.data() - base) + "+" + std::to_string(v.size());
}

inline bool is_tchar(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// A header value never holds a CTL other than HTAB, nor DEL, nor starts or ends with OWS.
inline bool valid_value(std::string_view v) noexcept {
    for (unsigned char c : v)
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return false;
    return v.empty() ||
           (v.front() != ' ' && v.front() != '\t' && v.back() != ' ' && v.back() != '\t');
}

inline bool valid_name(std::string_view n) noexcept {
    if (n.empty())
        return false;
    for (char c : n)
        if (!is_tchar(c))
            return false;
    return true;
}

/// The outcome of one call: an error status (and no bytes), or the bytes taken and a
/// description of the fields with views given as offsets from the input.
struct outcome {
    int status = 0;
    std::size_t consumed = 0;
    std::string fields;
    bool operator==(const outcome&) const = default;
};

/// The header fields of a parsed head as "name:value|" each, the views given as offsets from
/// `base`.
inline std::string describe_fields(const std::vector<corio::http::header_view>& headers,
                                   const char* base) {
    std::string out;
    for (const auto& f : headers)
        out += offset_of(f.name, base) + ":" + offset_of(f.value, base) + "|";
    return out;
}

/// Limits small enough that short inputs reach the 431 and 413 paths, picked from `s`:
/// max_head_bytes in [min_head, min_head + head_span), max_header_count in [1, count_span],
/// max_body_bytes in [0, body_span).
inline corio::http::parse_limits tight_limits(std::uint64_t s, std::size_t min_head,
                                              std::size_t head_span, std::size_t count_span,
                                              std::size_t body_span) {
    corio::http::parse_limits tight;
    tight.max_head_bytes = min_head + s % head_span;
    tight.max_header_count = 1 + (s >> 8) % count_span;
    tight.max_body_bytes = (s >> 16) % body_span;
    return tight;
}

/// Parses two prefixes of `in` (one picked by `seed`, and the first half) with `parse`, a
/// callable from a view to an outcome. Each prefix is copied, so that a read past its end is
/// an ASan report. A prefix may only fail as the whole input does, and may only take bytes
/// when it takes the same as the whole (it holds the whole head).
template <typename Parse>
void check_prefixes(std::string_view in, std::uint64_t seed, const outcome& whole, Parse parse) {
    for (const std::size_t cut :
         {static_cast<std::size_t>(seed % (in.size() + 1)), in.size() / 2}) {
        const exact_copy prefix(in.substr(0, cut));
        const outcome part = parse(prefix.view());
        if (part.status != 0)
            CORIO_FUZZ_CHECK(part.status == whole.status);
        else if (part.consumed != 0)
            CORIO_FUZZ_CHECK(part == whole);
    }
}

} // namespace corio_fuzz

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

} // namespace corio_fuzz

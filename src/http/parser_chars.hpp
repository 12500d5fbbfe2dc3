#pragma once
// Character classes and scanning loops of the HTTP/1.1 parser (src/http/parser.cpp), private.
// One 256-entry table answers "is this byte a tchar / field-vchar / ..." with one load; the
// scans over long runs (field values, request targets) look at 16 bytes at a time with SSE2
// where the target has it, and fall back to the table loop for the tail and elsewhere.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace corio::http::detail {

enum char_class : std::uint8_t {
    /// tchar (RFC 9110 §5.6.2): the characters of a token (methods, field names, codings).
    cc_tchar = 1,
    /// A byte allowed in a field value: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5).
    cc_field = 2,
    /// VCHAR (0x21-0x7E): the bytes allowed in a request target.
    cc_vchar = 4,
    /// HEXDIG.
    cc_hex = 8,
    /// A byte of a Host value or an authority-form host: unreserved, pct-encoded, sub-delims,
    /// ':' and the brackets of an IP literal (RFC 3986 §3.2.2).
    cc_host = 16,
    /// qdtext of a quoted-string (RFC 9110 §5.6.4): HTAB, SP, 0x21, 0x23-0x5B, 0x5D-0x7E,
    /// obs-text.
    cc_qdtext = 32,
};

constexpr std::array<std::uint8_t, 256> make_char_table() {
    // The punctuation among tchar, and among the bytes of a host (besides ALPHA and DIGIT).
    constexpr std::string_view tchar_punct = "!#$%&'*+-.^_`|~";
    constexpr std::string_view host_punct = "-._~%!$&'()*+,;=:[]";
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool digit = c >= '0' && c <= '9';
        const bool vchar = c >= 0x21 && c <= 0x7E;
        const bool obs_text = c >= 0x80;
        std::uint8_t v = 0;
        if (alpha || digit || (c < 0x80 && tchar_punct.find(ch) != std::string_view::npos))
            v |= cc_tchar;
        if (vchar || obs_text || c == ' ' || c == '\t')
            v |= cc_field;
        if (vchar)
            v |= cc_vchar;
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
            v |= cc_hex;
        if (alpha || digit || (c < 0x80 && host_punct.find(ch) != std::string_view::npos))
            v |= cc_host;
        if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
            (c >= 0x5D && c <= 0x7E) || obs_text)
            v |= cc_qdtext;
        t[static_cast<std::size_t>(c)] = v;
    }
    return t;
}

inline constexpr std::array<std::uint8_t, 256> char_table = make_char_table();

[[nodiscard]] inline bool is(char c, char_class cls) noexcept {
    return (char_table[static_cast<unsigned char>(c)] & cls) != 0;
}

/// The first byte in [p, end) that is not allowed in a field value (a CTL other than HTAB, or
/// DEL), or end.
[[nodiscard]] inline const char* scan_field(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
    const __m128i k1f = _mm_set1_epi8(0x1F);
    const __m128i kdel = _mm_set1_epi8(0x7F);
    while (end - p >= 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // x <= 0x1F (unsigned) exactly when max(x, 0x1F) == 0x1F.
        const __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, k1f), k1f);
        const __m128i del = _mm_cmpeq_epi8(x, kdel);
        const int mask = _mm_movemask_epi8(_mm_or_si128(ctl, del));
        if (mask == 0) {
            p += 16;
            continue;
        }
        p += __builtin_ctz(static_cast<unsigned>(mask));
        if (*p != '\t')
            return p;
        ++p; // HTAB is the one allowed CTL: step over it and go on
    }
#endif
    while (p < end && is(*p, cc_field))
        ++p;
    return p;
}

/// The first byte in [p, end) that is not a VCHAR (SP, a CTL, DEL or obs-text), or end.
[[nodiscard]] inline const char* scan_vchar(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
    const __m128i k21 = _mm_set1_epi8(0x21);
    const __m128i kdel = _mm_set1_epi8(0x7F);
    while (end - p >= 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // Signed: bytes 0x80-0xFF are negative, so "< 0x21" also catches obs-text.
        const __m128i low = _mm_cmplt_epi8(x, k21);
        const __m128i del = _mm_cmpeq_epi8(x, kdel);
        const int mask = _mm_movemask_epi8(_mm_or_si128(low, del));
        if (mask != 0)
            return p + __builtin_ctz(static_cast<unsigned>(mask));
        p += 16;
    }
#endif
    while (p < end && is(*p, cc_vchar))
        ++p;
    return p;
}

/// The first byte in [p, end) that is not a tchar, or end.
[[nodiscard]] inline const char* scan_token(const char* p, const char* end) noexcept {
    while (p < end && is(*p, cc_tchar))
        ++p;
    return p;
}

} // namespace corio::http::detail

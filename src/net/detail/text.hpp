#pragma once

#include <string>
#include <string_view>

namespace corio::net::detail {

/// `text` in double quotes for an error message: control bytes and bytes past ASCII as \xNN,
/// and cut after 200 bytes, so that a message stays readable whatever the caller passed.
inline std::string quote(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    constexpr std::size_t max = 200;
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > max)
        out += "...";
    out += '"';
    return out;
}

} // namespace corio::net::detail

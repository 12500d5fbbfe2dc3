#pragma once
#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::http {

/// True if `a` and `b` are equal ignoring ASCII case (header names, methods' schemes).
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = static_cast<char>(x + ('a' - 'A'));
        if (y >= 'A' && y <= 'Z')
            y = static_cast<char>(y + ('a' - 'A'));
        if (x != y)
            return false;
    }
    return true;
}

/// An HTTP header section: fields in the order they were added, names compared without regard
/// to case, repeated names allowed (Set-Cookie). Owns its strings.
///
/// Example:
/// @code
/// http::headers h;
/// h.add("Content-Type", "text/plain");
/// if (auto v = h.get("content-type")) use(*v);
/// @endcode
class headers {
  public:
    using field = std::pair<std::string, std::string>;

    headers() = default;
    headers(std::initializer_list<field> fields) : m_fields(fields) {}

    /// Appends a field (a name may repeat).
    void add(std::string name, std::string value) {
        m_fields.emplace_back(std::move(name), std::move(value));
    }
    /// Replaces every field named `name` with one field (appended if there was none).
    void set(std::string_view name, std::string value) {
        auto it = find(name);
        if (it == m_fields.end()) {
            m_fields.emplace_back(std::string(name), std::move(value));
            return;
        }
        it->second = std::move(value);
        const auto first = it - m_fields.begin();
        m_fields.erase(std::remove_if(m_fields.begin() + first + 1, m_fields.end(),
                                      [&](const field& f) { return iequals(f.first, name); }),
                       m_fields.end());
    }
    /// The value of the first field named `name`, or nullopt.
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept {
        auto it = find(name);
        if (it == m_fields.end())
            return std::nullopt;
        return std::string_view(it->second);
    }
    /// Every value of the fields named `name`, in order.
    [[nodiscard]] std::vector<std::string_view> get_all(std::string_view name) const {
        std::vector<std::string_view> out;
        for (const auto& f : m_fields)
            if (iequals(f.first, name))
                out.emplace_back(f.second);
        return out;
    }
    [[nodiscard]] bool contains(std::string_view name) const noexcept {
        return find(name) != m_fields.end();
    }
    /// Removes every field named `name`; returns how many went.
    std::size_t remove(std::string_view name) {
        const auto before = m_fields.size();
        m_fields.erase(std::remove_if(m_fields.begin(), m_fields.end(),
                                      [&](const field& f) { return iequals(f.first, name); }),
                       m_fields.end());
        return before - m_fields.size();
    }
    void clear() noexcept { m_fields.clear(); }

    [[nodiscard]] std::size_t size() const noexcept { return m_fields.size(); }
    [[nodiscard]] bool empty() const noexcept { return m_fields.empty(); }
    [[nodiscard]] auto begin() const noexcept { return m_fields.begin(); }
    [[nodiscard]] auto end() const noexcept { return m_fields.end(); }

  private:
    [[nodiscard]] std::vector<field>::const_iterator find(std::string_view name) const noexcept {
        return std::find_if(m_fields.begin(), m_fields.end(),
                            [&](const field& f) { return iequals(f.first, name); });
    }
    [[nodiscard]] std::vector<field>::iterator find(std::string_view name) noexcept {
        return std::find_if(m_fields.begin(), m_fields.end(),
                            [&](const field& f) { return iequals(f.first, name); });
    }

    std::vector<field> m_fields;
};

} // namespace corio::http

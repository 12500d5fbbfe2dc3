#include "corio/io/incomplete_read_error.hpp"

#include <string>
#include <utility>

namespace corio {

namespace {
std::string incomplete_message(std::size_t got, std::optional<std::size_t> expected) {
    std::string m = std::to_string(got) + " bytes read on a total of ";
    m += expected ? std::to_string(*expected) : std::string("undefined");
    m += " expected bytes";
    return m;
}
} // namespace

incomplete_read_error::incomplete_read_error(std::string partial,
                                             std::optional<std::size_t> expected)
    : std::runtime_error(incomplete_message(partial.size(), expected)),
      m_partial(std::move(partial)), m_expected(expected) {}

} // namespace corio

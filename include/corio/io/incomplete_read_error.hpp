#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

namespace corio {

/// Thrown when the stream ends before a read got what it needed (asyncio's IncompleteReadError):
/// by stream_reader::readexactly (fewer than n bytes were left) and stream_reader::readuntil (the
/// separator never came). The bytes read before the end are not lost: they are in partial().
class incomplete_read_error : public std::runtime_error {
  public:
    /// `expected` is the byte count readexactly wanted, or nullopt for readuntil.
    incomplete_read_error(std::string partial, std::optional<std::size_t> expected);

    /// The bytes read before the end of the stream (the stream's buffer no longer holds them).
    [[nodiscard]] const std::string& partial() const noexcept { return m_partial; }
    /// What readexactly asked for; nullopt when readuntil raised it.
    [[nodiscard]] std::optional<std::size_t> expected() const noexcept { return m_expected; }

  private:
    std::string m_partial;
    std::optional<std::size_t> m_expected;
};

} // namespace corio

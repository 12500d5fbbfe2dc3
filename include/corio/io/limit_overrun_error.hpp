#pragma once

#include <cstddef>
#include <stdexcept>

namespace corio {

/// Thrown when a line or a separator-delimited chunk would exceed the stream's limit (asyncio's
/// LimitOverrunError): by stream_reader::readuntil, which leaves the data in the stream's buffer
/// so that it can still be read with read() or readexactly(), and by stream_reader::readline,
/// which drops it as asyncio does (see there).
class limit_overrun_error : public std::runtime_error {
  public:
    limit_overrun_error(const char* what, std::size_t consumed)
        : std::runtime_error(what), m_consumed(consumed) {}

    /// How many bytes of the buffer are known not to start a separator (asyncio's `consumed`):
    /// `reader.readexactly(e.consumed())` takes them out.
    [[nodiscard]] std::size_t consumed() const noexcept { return m_consumed; }

  private:
    std::size_t m_consumed;
};

} // namespace corio

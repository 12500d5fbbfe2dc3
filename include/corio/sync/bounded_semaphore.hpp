#pragma once

#include "corio/sync/semaphore.hpp"

#include <cstddef>

namespace corio {

/// A semaphore that refuses to be released above its initial value (asyncio's
/// BoundedSemaphore), which catches a release() without a matching acquire().
///
/// Everything else is semaphore's: acquire(), `co_await s` (a semaphore::guard), value(),
/// locked(), FIFO hand-off, and the same behaviour under cancellation. The bound is checked in
/// semaphore::release() itself, so it holds through a `semaphore&` too.
///
/// Errors: release() throws std::logic_error ("released too many times") when the value would
/// exceed the initial value; asyncio raises ValueError there. The value is then unchanged.
///
/// Example:
/// ```
/// corio::bounded_semaphore pool(4); // four connections
/// auto unit = co_await pool;        // given back when `unit` goes out of scope
/// ```
class bounded_semaphore : public semaphore {
  public:
    /// A semaphore with `initial` units, which is also its largest value.
    /// Errors: std::invalid_argument if `initial` is negative.
    explicit bounded_semaphore(std::ptrdiff_t initial = 1) : semaphore(initial, initial) {}
};

} // namespace corio

#pragma once

#include <stdexcept>

namespace corio {

/// Thrown at a task's suspension point when the task has been cancelled.
///
/// It derives from std::exception but not from std::runtime_error, so that a generic
/// `catch (const std::runtime_error&)` in application code does not swallow a cancellation
/// by accident. Code that catches it must rethrow it, or call `uncancel()` on the task when it
/// deliberately absorbs the request (as `timeout` does). It is final: the loop recognises a
/// cancellation by its exact type, without rethrowing it.
class cancelled_error final : public std::exception {
  public:
    cancelled_error() noexcept = default;

    /// Returns "task cancelled".
    [[nodiscard]] const char* what() const noexcept override { return "task cancelled"; }
};

} // namespace corio

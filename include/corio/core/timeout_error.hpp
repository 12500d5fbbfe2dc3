#pragma once

#include <stdexcept>

namespace corio {

/// Thrown by `timeout`, `timeout_at`, `wait_for` and `as_completed` when their deadline passes
/// before the work they guard is done.
class timeout_error : public std::runtime_error {
  public:
    timeout_error() : std::runtime_error("operation timed out") {}
    explicit timeout_error(const char* what) : std::runtime_error(what) {}
};

} // namespace corio

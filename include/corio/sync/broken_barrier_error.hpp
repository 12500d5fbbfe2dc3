#pragma once

#include <stdexcept>

namespace corio {

/// Thrown by `barrier::wait` when the barrier is broken by `abort()`, or when `reset()` releases
/// the tasks waiting in it (asyncio's BrokenBarrierError, a RuntimeError).
class broken_barrier_error : public std::runtime_error {
  public:
    broken_barrier_error() : std::runtime_error("barrier is broken or was reset") {}
};

} // namespace corio

#pragma once

#include <stdexcept>

namespace corio {

/// Thrown by `put_nowait` on a queue that has no free slot (asyncio's QueueFull).
class queue_full : public std::runtime_error {
  public:
    queue_full() : std::runtime_error("queue is full") {}
};

/// Thrown by `get_nowait` on a queue that has no item to give (asyncio's QueueEmpty).
class queue_empty : public std::runtime_error {
  public:
    queue_empty() : std::runtime_error("queue is empty") {}
};

/// Thrown by the operations of a queue that has been shut down (asyncio 3.13's QueueShutDown):
/// by `put` and `put_nowait` at once, and by `get` and `get_nowait` once no item is left.
class queue_shutdown : public std::runtime_error {
  public:
    queue_shutdown() : std::runtime_error("queue is shut down") {}
};

} // namespace corio

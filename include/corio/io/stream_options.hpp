#pragma once

#include <cstddef>

namespace corio {

/// Buffering of a stream_reader/stream_writer pair (asyncio's `limit` and the transport's write
/// buffer limits).
struct stream_options {
    /// The reader's limit (asyncio's default, 64 KiB): readuntil/readline give
    /// limit_overrun_error for a chunk longer than this, and the reader never buffers much more
    /// than max(limit, 64 KiB) ahead of what was asked. From 1 byte to 1 GiB.
    std::size_t limit = 64 * 1024;
    /// The writer's high-water mark: `co_await write(...)` and drain() wait while more than this
    /// is buffered (asyncio's default, 64 KiB).
    std::size_t write_high_water = 64 * 1024;
    /// Once the writer has waited, it resumes when the buffer is back at or below this (asyncio's
    /// default, a quarter of the high-water mark).
    std::size_t write_low_water = 16 * 1024;
};

} // namespace corio

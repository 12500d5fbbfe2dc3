#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <coroutine>
#include <cstdint>

namespace corio::detail {

class stream_state;

/// What a writer-side wait waits for.
enum class write_wait : std::uint8_t {
    drain,  ///< the buffer is back at or below the low-water mark (or the stream is done)
    closed, ///< the transport is closed
    /// every byte written is in the kernel: the buffer and the transport's write backlog are
    /// empty (or the stream is done)
    flushed,
};

/// The awaiter of stream_writer::write, drain and wait_closed: a sync_waiter in the awaiting
/// frame, queued in the stream state while it waits, so waiting allocates nothing. (write takes
/// its bytes when it is called, then returns this awaiter as a drain: a write that leaves the
/// buffer at or below the high-water mark never suspends.)
class stream_write_waiter : sync_waiter {
  public:
    stream_write_waiter(stream_state* s, write_wait w) noexcept;
    stream_write_waiter(const stream_write_waiter&) = delete;
    stream_write_waiter& operator=(const stream_write_waiter&) = delete;
    ~stream_write_waiter();

    /// Errors: std::logic_error for an empty stream_writer.
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    /// Errors: the stream's error (std::system_error...); cancelled_error if the wait was
    /// cancelled.
    void await_resume();

  private:
    friend class stream_state;
    static void on_cancel(wait_node* w, task_header& t) noexcept;
    static const wait_kind s_wait_kind;

    stream_state* m_state;
    write_wait m_what;
    /// The state's reference taken while queued.
    bool m_holds_ref = false;
};

} // namespace corio::detail

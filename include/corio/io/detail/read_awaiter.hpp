#pragma once

#include "corio/core/detail/task_header.hpp"

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corio::detail {

class stream_state;

/// What a stream read waits for.
enum class read_kind : std::uint8_t {
    wait,      ///< wait_readable: data is buffered, or the transport may have some
    some_into, ///< read_some(span): up to span.size() bytes into the caller's buffer
    up_to,     ///< read(n), n > 0: up to n bytes
    all,       ///< read(-1): everything up to the end of the stream
    exactly,   ///< readexactly(n)
    until,     ///< readuntil(separators)
    line,      ///< readline()
    next_line, ///< next_line(): readline, with nullopt at the end of the stream
};

/// The state of one read of a stream_reader, in the awaiting frame: the read allocates nothing
/// but its result. The library's stream_state does the work (stream_reader.cpp): at once when
/// the buffer (or a read that does not block) satisfies it, otherwise from the transport's
/// readiness callback, which fills the result without waking the task until it is complete.
/// The derived classes add what their kind of read needs (text_read_op, buffer_read_op), so that
/// a wait_readable() costs a frame only this base.
///
/// Invariant: while parked (the task waits here) the operation is the state's only reader and
/// holds a reference to the state, so the state outlives it; the bytes it has taken so far
/// (readexactly, read(-1)) are in its result and go back to the stream's buffer if it is
/// withdrawn.
class stream_read_op : wait_node {
  public:
    stream_read_op(const stream_read_op&) = delete;
    stream_read_op& operator=(const stream_read_op&) = delete;

    bool await_ready() const noexcept { return false; }
    /// Runs the read at once if it can complete; otherwise parks the task until it has.
    /// Errors: std::logic_error outside a task, or when another task is already reading the
    /// stream.
    bool await_suspend(std::coroutine_handle<> h);

  protected:
    stream_read_op(stream_state* s, read_kind k) noexcept;
    ~stream_read_op();
    /// After resumption: rethrows the read's error, or cancelled_error if it was withdrawn.
    void finish();
    /// Withdraws the read if it is parked (its frame goes while it waits: a loop torn down).
    /// Derived classes call it first in their destructor, while their result still exists.
    void leave() noexcept;

    stream_state* m_state;
    task_header* m_task = nullptr;
    std::exception_ptr m_error;
    read_kind m_read_kind;
    /// The read has its outcome (result or m_error).
    bool m_done = false;
    /// next_line: the end of the stream came with nothing buffered.
    bool m_at_end = false;

  private:
    friend class stream_state;
    static void on_cancel(wait_node* w, task_header& t) noexcept;
    static const wait_kind s_wait_kind;
    /// True while the task is parked here (the state points at this operation).
    bool m_parked = false;
    /// The state's reference taken when the read parked, dropped by the destructor.
    bool m_holds_ref = false;
};

/// The reads that produce text: read, readexactly, readuntil, readline, next_line.
class text_read_op : public stream_read_op {
  protected:
    text_read_op(stream_state* s, read_kind k, std::size_t n = 0) noexcept
        : stream_read_op(s, k), m_n(n) {}
    ~text_read_op() { leave(); }

    std::string m_result;
    /// up_to, exactly: the byte count asked for.
    std::size_t m_n;
    /// exactly: the bytes of m_result filled so far; until, line: where the next search for a
    /// separator starts.
    std::size_t m_offset = 0;
    /// until: the separators, shortest first (one separator: m_one).
    const std::string_view* m_seps = &m_one;
    std::size_t m_sep_count = 1;
    std::string_view m_one = "\n";

  private:
    friend class stream_state;
};

/// read_some: the caller's buffer.
class buffer_read_op : public stream_read_op {
  protected:
    buffer_read_op(stream_state* s, std::span<std::byte> buf) noexcept
        : stream_read_op(s, read_kind::some_into), m_buf(buf.data()), m_n(buf.size()) {}

    std::byte* m_buf;
    /// The buffer's size, then the count read.
    std::size_t m_n;

  private:
    friend class stream_state;
};

/// read, readexactly, readuntil, readline: the bytes as a std::string.
class string_read_awaiter : public text_read_op {
  public:
    string_read_awaiter(stream_state* s, read_kind k, std::size_t n = 0) noexcept
        : text_read_op(s, k, n) {}
    string_read_awaiter(stream_state* s, std::string_view separator) noexcept
        : text_read_op(s, read_kind::until) {
        m_one = separator;
    }
    std::string await_resume() {
        finish();
        return std::move(m_result);
    }
};

/// readuntil with several separators: owns the sorted copy of their views.
class multi_until_awaiter : public text_read_op {
  public:
    /// Errors: std::invalid_argument for an empty list or an empty separator.
    multi_until_awaiter(stream_state* s, std::span<const std::string_view> separators);
    std::string await_resume() {
        finish();
        return std::move(m_result);
    }

  private:
    std::vector<std::string_view> m_list;
};

/// next_line: the line, or nullopt at the end of the stream.
class next_line_awaiter : public text_read_op {
  public:
    explicit next_line_awaiter(stream_state* s) noexcept : text_read_op(s, read_kind::next_line) {}
    std::optional<std::string> await_resume() {
        finish();
        if (m_at_end)
            return std::nullopt;
        return std::optional<std::string>(std::move(m_result));
    }
};

/// read_some: the byte count stored in the caller's buffer (0 at the end of the stream).
class read_some_awaiter : public buffer_read_op {
  public:
    read_some_awaiter(stream_state* s, std::span<std::byte> buf) noexcept
        : buffer_read_op(s, buf) {}
    std::size_t await_resume() {
        finish();
        return m_n;
    }
};

/// wait_readable: returns once a read may make progress.
class wait_readable_awaiter : public stream_read_op {
  public:
    explicit wait_readable_awaiter(stream_state* s) noexcept : stream_read_op(s, read_kind::wait) {}
    void await_resume() { finish(); }
};

} // namespace corio::detail

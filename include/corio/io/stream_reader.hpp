#pragma once

#include "corio/io/detail/read_awaiter.hpp"
#include "corio/io/incomplete_read_error.hpp"
#include "corio/io/limit_overrun_error.hpp"

#include <cstddef>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace corio {

namespace detail {
class stream_state;
}

/// The reading half of a connection (asyncio's StreamReader): buffered reads of bytes, lines and
/// separator-delimited chunks, bounded by a limit. Obtained from open_connection,
/// open_unix_connection, make_streams, or as a start_server handler's argument.
///
/// Buffering: the reader holds no buffer while nothing is buffered; an idle connection costs no
/// read buffer. Data is received only when a read needs it, at most 64 KiB per receive (into the
/// loop thread's scratch buffer, from which the read takes what it returns), so the reader never
/// holds much more than max(limit, 64 KiB) ahead of what was asked; bytes that must be kept for a
/// later read go into a buffer of the stream, allocated then and freed once they are consumed.
/// Reads that can be served from the buffer do not suspend.
///
/// Handles: copies share the stream (the connection closes once the last reader and writer of it
/// are gone, after flushing what the writer still buffers). One task reads at a time: a read
/// started while another task's read waits throws std::logic_error (asyncio's RuntimeError).
/// Everything happens on the thread of the loop the stream was made on.
///
/// Errors: a transport failure (std::system_error: ECONNRESET...) is thrown by the read that
/// meets it and by every read after it (asyncio's exception()), even if bytes are still buffered.
/// The end of the stream is not an error: read() returns "" and readline() the partial last line.
///
/// Cancellation (every read): a read that completed before the cancellation returns its result
/// (the cancellation is delivered at the next suspension point), and a withdrawn read loses
/// nothing: the bytes it had taken (readexactly, read(-1)) go back to the buffer, in order.
///
/// Line iteration (asyncio's `async for line in reader`):
/// @code
/// while (auto line = co_await reader.next_line())
///     handle(*line);                    // each line ends with '\n', except perhaps the last
/// @endcode
class stream_reader {
  public:
    /// No stream (operator bool is false).
    stream_reader() noexcept = default;
    /// For corio's layers: takes one reference to `s`.
    explicit stream_reader(detail::stream_state* s) noexcept;
    stream_reader(const stream_reader& o) noexcept;
    stream_reader(stream_reader&& o) noexcept;
    stream_reader& operator=(stream_reader o) noexcept;
    ~stream_reader();

    [[nodiscard]] explicit operator bool() const noexcept { return m_state != nullptr; }

    /// Reads up to `n` bytes (asyncio's read): n > 0 returns what is buffered (at most n bytes)
    /// or, with nothing buffered, waits for the next bytes to arrive; n < 0 reads until the end
    /// of the stream; "" means the end of the stream (or n == 0).
    /// Errors: the stream's error. Cancellation: nothing is lost.
    [[nodiscard]] detail::string_read_awaiter read(std::ptrdiff_t n = -1) noexcept;
    /// Reads exactly `n` bytes (asyncio's readexactly).
    /// Errors: incomplete_read_error with the bytes that came when the stream ends first; the
    /// stream's error. Cancellation: nothing is lost (the bytes already taken go back).
    [[nodiscard]] detail::string_read_awaiter readexactly(std::size_t n) noexcept;
    /// Reads a line, up to and including '\n' (asyncio's readline). At the end of the stream it
    /// returns the partial last line, and "" once nothing is left.
    /// Errors: limit_overrun_error when no '\n' comes within the limit; as in asyncio (whose
    /// ValueError this replaces) the over-long data is dropped from the buffer: up to and
    /// including the '\n' if it has arrived, otherwise everything buffered (the rest of the line
    /// is then read by the next call). The stream's error.
    [[nodiscard]] detail::string_read_awaiter readline() noexcept;
    /// Reads up to and including `separator` (asyncio's readuntil). The separator's characters
    /// must stay valid until the read completes (a literal, or a string that outlives the
    /// co_await).
    /// Errors: incomplete_read_error with everything buffered (the buffer is then empty) when
    /// the stream ends first; limit_overrun_error when the separator is not within the limit
    /// (the data stays buffered); std::invalid_argument for an empty separator (thrown when
    /// awaited); the stream's error.
    [[nodiscard]] detail::string_read_awaiter readuntil(std::string_view separator) noexcept;
    /// readuntil with several separators (asyncio 3.13's tuple of separators): the chunk up to
    /// the first place where any of them ends (the shortest such chunk), separator included.
    /// Example: `std::string line = co_await reader.readuntil("\r\n", "\n");`
    /// Errors: as above; std::invalid_argument for an empty separator.
    /// (There is no initializer_list overload: g++ 12 rejects a braced list inside co_await.)
    template <typename... More>
    [[nodiscard]] detail::multi_until_awaiter
    readuntil(std::string_view first, std::string_view second, const More&... more) {
        static_assert((std::is_convertible_v<const More&, std::string_view> && ...),
                      "corio::stream_reader::readuntil: separators are string views");
        const std::string_view all[] = {first, second, std::string_view(more)...};
        return readuntil(std::span<const std::string_view>(all));
    }
    /// readuntil with a list of separators. Errors: std::invalid_argument for an empty list.
    [[nodiscard]] detail::multi_until_awaiter
    readuntil(std::span<const std::string_view> separators);
    /// The next line, or nullopt at the end of the stream: readline() for loops (asyncio's
    /// `async for`). Errors: as readline().
    [[nodiscard]] detail::next_line_awaiter next_line() noexcept;

    /// For experts, zero copy: reads up to buf.size() bytes into `buf` and returns the count
    /// (0 at the end of the stream). Bytes already buffered are copied from the buffer; otherwise
    /// the transport reads straight into `buf`. While the read waits, `buf` belongs to it: it may
    /// be written to at any time until the read completes or is withdrawn (so it cannot be a
    /// buffer shared by several connections: use wait_readable() and try_read() for that).
    /// Cancellation: nothing is lost. Errors: the stream's error.
    [[nodiscard]] detail::read_some_awaiter read_some(std::span<std::byte> buf) noexcept;
    /// For experts: waits until a read may make progress (bytes are buffered, the transport
    /// reports readiness, or the stream has ended or failed), without taking any data and
    /// without holding any buffer while it waits. Readiness may be spurious: try_read then
    /// returns nullopt, and the caller waits again (Tokio's readable() + try_read()).
    /// Cancellation: nothing is lost. Errors: none (the error comes from the read that follows).
    [[nodiscard]] detail::wait_readable_awaiter wait_readable() noexcept;
    /// For experts: reads up to buf.size() bytes now, without waiting: from the buffer if it
    /// holds any, else with one non-blocking read of the transport. Returns the count, 0 at the
    /// end of the stream, nullopt when nothing is available yet. `buf` is only used during the
    /// call, so one buffer can serve every connection of a loop:
    /// @code
    /// static std::array<std::byte, 65536> buf;   // shared by all connections of this thread
    /// for (;;) {
    ///     co_await reader.wait_readable();
    ///     auto n = reader.try_read(buf);
    ///     if (!n) continue;                     // spurious readiness
    ///     if (*n == 0) break;                   // end of stream
    ///     co_await writer.write(std::span(buf).first(*n));
    /// }
    /// @endcode
    /// Errors: the stream's error; std::logic_error while another task's read waits.
    [[nodiscard]] std::optional<std::size_t> try_read(std::span<std::byte> buf);

    /// True once the end of the stream has been reached and the buffer is empty (asyncio's
    /// at_eof).
    [[nodiscard]] bool at_eof() const noexcept;
    /// The transport failure that ended the stream, or null (asyncio's exception()).
    [[nodiscard]] std::exception_ptr exception() const noexcept;
    /// The bytes buffered and not yet read.
    [[nodiscard]] std::size_t buffered() const noexcept;
    /// The limit (stream_options::limit).
    [[nodiscard]] std::size_t limit() const noexcept;

    /// For corio's layers.
    [[nodiscard]] detail::stream_state* state() const noexcept { return m_state; }

  private:
    detail::stream_state* m_state = nullptr;
};

} // namespace corio

#pragma once

#include "corio/io/detail/write_awaiter.hpp"
#include "corio/net/endpoint.hpp"
#include "corio/net/socket_address.hpp"

#include <cstddef>
#include <ranges>
#include <span>
#include <string_view>
#include <type_traits>

namespace corio {

class transport;
namespace net {
class socket;
}
namespace detail {
class stream_state;
}

/// The writing half of a connection (asyncio's StreamWriter, with its transport's buffering):
/// writes with backpressure, half-close, close.
///
/// Buffering: a write with nothing buffered sends at once, straight from the caller's bytes; only
/// what the socket does not take is copied into the writer's buffer (allocated then, freed once
/// flushed), which the stream flushes in the background as the socket drains, with no task per
/// write. `co_await write(...)` returns at once while the buffer is at or below the high-water
/// mark (64 KiB by default) and otherwise waits until it is back at or below the low-water mark
/// (16 KiB), as asyncio's write() + drain().
///
/// A peer that never reads blocks only this writer: other connections go on.
///
/// Handles: copies share the stream; the connection closes once the last reader and writer of
/// it are gone. Still-buffered bytes are flushed first (in a small background task, which
/// corio::run cancels when the program ends, aborting the connection then).
///
/// Errors: a transport failure (ECONNRESET, EPIPE...) is a std::system_error thrown by the write,
/// drain or wait_closed that meets it and every one after it; it ends the connection (reads fail
/// with it too). SIGPIPE never fires.
///
/// Example:
/// @code
/// co_await writer.write("hello\n");
/// writer.close();
/// co_await writer.wait_closed();
/// @endcode
class stream_writer {
  public:
    stream_writer() noexcept = default;
    /// For corio's layers: takes one reference to `s`.
    explicit stream_writer(detail::stream_state* s) noexcept;
    stream_writer(const stream_writer& o) noexcept;
    stream_writer(stream_writer&& o) noexcept;
    stream_writer& operator=(stream_writer o) noexcept;
    ~stream_writer();

    [[nodiscard]] explicit operator bool() const noexcept { return m_state != nullptr; }

    /// Writes `data` (sent now as far as the socket takes it, the rest buffered; the bytes are
    /// taken when write() is called), then waits while the buffer is above the high-water mark.
    /// Cancellation: the bytes are not withdrawn (they are buffered or sent); only the wait
    /// ends. Errors: std::system_error if the stream failed (its error) or was closed (EPIPE);
    /// std::logic_error after write_eof().
    [[nodiscard]] detail::stream_write_waiter write(std::span<const std::byte> data);
    [[nodiscard]] detail::stream_write_waiter write(std::string_view data);
    /// Writes every piece of `pieces` (a range of things convertible to std::string_view:
    /// std::vector<std::string>, an array of views...) in order, then waits as write() does
    /// (asyncio's writelines + drain). Errors: as write().
    template <std::ranges::input_range Pieces>
    requires std::is_convertible_v<std::ranges::range_reference_t<const Pieces>, std::string_view>
    [[nodiscard]] detail::stream_write_waiter writelines(const Pieces& pieces) {
        for (auto&& p : pieces)
            write_nowait(std::string_view(p));
        return drain();
    }
    /// For experts: writes without waiting (asyncio's write()): sent now as far as possible, the
    /// rest buffered without bound. Pair it with drain() or watch write_buffer_size().
    /// Errors: as write().
    void write_nowait(std::span<const std::byte> data);
    void write_nowait(std::string_view data);
    /// Waits while the buffer is above the high-water mark, until it is back at or below the
    /// low-water mark (asyncio's drain). Returns at once otherwise, also once the stream was
    /// closed after everything was flushed.
    /// Cancellation: nothing is lost. Errors: the stream's error; std::system_error(EPIPE) if
    /// the stream was aborted (or closed without flushing) while data waited.
    [[nodiscard]] detail::stream_write_waiter drain() noexcept;

    /// Half-close: once the buffer is flushed, the peer reads the end of the stream; reading
    /// goes on (asyncio's write_eof). Idempotent.
    /// Errors: std::logic_error when can_write_eof() is false; the stream's error.
    void write_eof();
    /// True for socket transports and write pipes (whose write_eof closes the pipe).
    [[nodiscard]] bool can_write_eof() const noexcept;
    /// Closes the connection (asyncio's close()): reading stops (a pending read sees the end of
    /// the stream), the buffer is flushed in the background, then the transport closes.
    /// Idempotent.
    void close() noexcept;
    /// Closes at once (a TCP reset), dropping what is buffered (asyncio's transport.abort()).
    void abort() noexcept;
    /// True once close() or abort() was called or the stream failed.
    [[nodiscard]] bool is_closing() const noexcept;
    /// Waits until the transport is closed (asyncio's wait_closed).
    /// Cancellation: nothing is lost. Errors: the stream's error, if it failed (as asyncio).
    [[nodiscard]] detail::stream_write_waiter wait_closed() noexcept;

    /// Changes the high- and low-water marks (asyncio's transport.set_write_buffer_limits).
    /// Errors: std::invalid_argument if low > high.
    void set_write_buffer_limits(std::size_t high, std::size_t low);
    /// The bytes buffered and not yet sent (asyncio's transport.get_write_buffer_size). Not
    /// counted: the bytes of a send that io_uring queues until the end of the loop's turn
    /// (at most about 2 KiB per connection; close(), write_eof() and drain() past the high-water
    /// mark wait for them all the same).
    [[nodiscard]] std::size_t write_buffer_size() const noexcept;

    /// The peer's endpoint (asyncio's get_extra_info("peername")); known without a system call
    /// for accepted and connected TCP streams. Errors: std::system_error;
    /// std::invalid_argument for a non-IP transport.
    [[nodiscard]] net::endpoint peer_endpoint() const;
    /// The local endpoint ("sockname"). Errors: as peer_endpoint().
    [[nodiscard]] net::endpoint local_endpoint() const;
    /// The peer's and local addresses, of any family (Unix paths too).
    [[nodiscard]] net::socket_address peer_address() const;
    [[nodiscard]] net::socket_address local_address() const;
    /// The socket under the stream ("socket"), or null for a transport that has none. Do not
    /// read or write through it while the stream is in use.
    [[nodiscard]] net::socket* socket() const noexcept;
    /// The transport under the stream.
    [[nodiscard]] corio::transport& transport() const noexcept;

    /// For corio's layers.
    [[nodiscard]] detail::stream_state* state() const noexcept { return m_state; }

  private:
    detail::stream_state* m_state = nullptr;
};

} // namespace corio

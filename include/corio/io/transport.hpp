#pragma once

#include "corio/net/socket_address.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace corio::net {
class socket;
}

namespace corio {

/// Where a transport reports readiness: the stream state behind a stream_reader/stream_writer
/// pair, or a transport layered on another one (TLS over any byte stream).
class transport_events {
  public:
    /// A wait armed with transport::wait_readable() ended: try_read may make progress now (or
    /// report the end of the stream or an error). Called on the loop thread.
    virtual void on_readable() noexcept = 0;
    /// A wait armed with transport::wait_writable() ended.
    virtual void on_writable() noexcept = 0;

  protected:
    ~transport_events() = default;
};

/// The byte stream under a stream_reader/stream_writer pair: the seam between the streams and
/// what carries the bytes. corio's own transport is a socket (TCP or Unix); a TLS transport
/// (layered on another transport) and pipe transports (a subprocess's stdin/stdout) plug in here
/// without changing the stream API (see make_streams).
///
/// The contract is readiness-based, as Tokio's poll_read/poll_write: the streams call
/// try_read/try_write, which never block, and when one would block they arm a one-shot wait and
/// are told through transport_events when to try again. A transport therefore holds no buffer of
/// the streams while it waits (but for the bytes of a queued send, see write_backlog): an idle
/// connection's memory is the transport's and the streams' state only.
///
/// Rules for implementers: everything happens on the loop thread of the streams. try_read and
/// try_write are never called while a wait in the same direction is armed (the streams cancel it
/// first). A wait reports exactly once unless cancelled; spurious reports are allowed (the streams
/// then try again and re-arm). close() and abort() cancel both waits.
class transport {
  public:
    /// What try_read and try_write return when the call would block.
    static constexpr std::int64_t would_block = -1;

    transport() = default;
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;
    virtual ~transport() = default;

    /// Where readiness goes; set once by the streams before the first wait.
    void set_events(transport_events* events) noexcept { m_events = events; }

    /// Reads up to buf.size() bytes now: the count (> 0), 0 at the end of the stream, or
    /// would_block. Errors: std::system_error (ECONNRESET...) or the transport's own error type.
    virtual std::int64_t try_read(std::span<std::byte> buf) = 0;
    /// Writes a prefix of `buf` now: the count (> 0), or would_block.
    /// Errors: std::system_error (EPIPE, ECONNRESET...); never SIGPIPE.
    virtual std::int64_t try_write(std::span<const std::byte> buf) = 0;
    /// Bytes that try_write accepted and the transport still holds, not yet in the kernel: a
    /// transport that queues its sends (the socket transport on io_uring hands them to the kernel
    /// once per loop turn) counts them here, and the streams count them as buffered (a drain past
    /// the high-water mark, close(), write_eof() and start_tls wait for them). Such a transport
    /// reports on_writable() once a queued send is done if a write wait is armed, and always when
    /// one fails. Errors: std::system_error, the failure of a queued send (EPIPE,
    /// ECONNRESET...).
    [[nodiscard]] virtual std::size_t write_backlog() const { return 0; }
    /// Arms a one-shot wait for readability: on_readable() is called once try_read may progress.
    /// Errors: std::system_error if the wait cannot be armed.
    virtual void wait_readable() = 0;
    /// Arms a one-shot wait for writability (for a transport with a write backlog: until its
    /// queued send is done, or try_write may progress).
    virtual void wait_writable() = 0;
    /// Withdraws an armed read wait (no effect if none is armed).
    virtual void cancel_wait_readable() noexcept = 0;
    /// Withdraws an armed write wait (no effect if none is armed).
    virtual void cancel_wait_writable() noexcept = 0;

    /// True if write_eof() can half-close the stream (sockets: yes; TLS: no, as in asyncio).
    [[nodiscard]] virtual bool can_write_eof() const noexcept { return false; }
    /// Half-close: the peer reads the end of the stream; reading goes on.
    /// Errors: std::system_error; std::logic_error when can_write_eof() is false.
    virtual void write_eof();
    /// Closes gracefully (the kernel still sends what it holds) and releases the resources.
    /// Cancels the waits. Idempotent.
    virtual void close() noexcept = 0;
    /// Closes at once, discarding unsent data (a TCP reset). Idempotent.
    virtual void abort() noexcept { close(); }

    /// The socket under the transport, or null (pipes, or a TLS transport over something else).
    [[nodiscard]] virtual net::socket* socket() noexcept { return nullptr; }
    /// The local and peer addresses (empty socket_address when the transport has none).
    /// Errors: std::system_error when the system cannot tell.
    [[nodiscard]] virtual net::socket_address local_address() const { return {}; }
    [[nodiscard]] virtual net::socket_address peer_address() const { return {}; }

  protected:
    transport_events* m_events = nullptr;
};

} // namespace corio

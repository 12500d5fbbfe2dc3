#pragma once

#include "corio/core/scheduler.hpp"
#include "corio/io/transport.hpp"
#include "corio/net/socket.hpp"
#include "corio/runtime/loop_handle.hpp"

#include "backend/backend.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace corio {
class event_loop;
}

namespace corio::detail {

/// The transport of a socket (TCP or Unix stream), driven through the loop's backend directly:
/// the stream state embeds it and calls it without a virtual call (the class is final).
///
/// It works in one of three modes, chosen from the backend's caps() at construction:
///
/// - readiness (epoll, poll): try_read / try_write call backend::try_transfer, which makes the
///   call at once when the backend believes the socket ready (epoll knows from its readiness
///   bits when a call would only return EAGAIN, so that costs no syscall) and never queues it,
///   so no operation ever waits with a caller's buffer. Waits are poll operations (no buffer)
///   held here; a ping-pong then costs one recv and one send per message, as a hand-written
///   epoll loop does.
/// - multishot (io_uring with provided buffers): one multishot recv per connection fills
///   buffers of the backend's shared pool; the chunks wait here in a FIFO chained through the
///   pool's links (no allocation) until try_read copies them out and recycles the buffers, so
///   an idle connection holds no buffer. Past 64 KiB unread the recv is stopped (without losing
///   what it already received) and re-armed once the stream has read half of it, so a peer
///   whose stream is not read cannot drain the shared pool. The end of the stream and errors
///   are returned once every earlier byte has been read. Writes are queued sends where the
///   backend asks for them (backend_caps::queued_sends): try_write copies the bytes into the
///   transport's send slot and queues one IORING_OP_SEND, which the loop hands to the kernel
///   with everything else of its turn in one io_uring_enter, so a write costs no system call
///   of its own. One send is queued at a time: until it is done, try_write answers would_block
///   and the stream buffers the rest; the slot's bytes are the write_backlog() that the stream
///   waits for before it closes or half-closes. Writes longer than a slot holds (about 0.9 KiB),
///   with nothing queued, are send calls. Without queued sends, writes are non-blocking send
///   calls and their waits polls, as in the direct mode.
/// - direct (io_uring without provided buffers, kernels before 6.0): non-blocking recv/send
///   syscalls (MSG_DONTWAIT), and polls through the backend to wait.
///
/// Loop lifetime: the transport may outlive its loop (streams destroyed after the loop closed);
/// it then only closes its fd, without touching the gone backend.
class socket_transport final : public transport {
  public:
    /// A queued send (defined and pooled in the .cpp).
    struct send_slot;

    /// No socket: the stream uses another transport.
    socket_transport() noexcept = default;
    /// Takes `s` (connected, non-blocking) for use on `loop`.
    socket_transport(event_loop& loop, net::socket s);
    ~socket_transport() override { close(); }

    [[nodiscard]] bool is_open() const noexcept { return m_sock.is_open(); }

    std::int64_t try_read(std::span<std::byte> buf) override;
    std::int64_t try_write(std::span<const std::byte> buf) override;
    /// Queued sends: the bytes of the send in flight. Errors: std::system_error, the failure of
    /// the last queued send (reported until the transport closes).
    [[nodiscard]] std::size_t write_backlog() const override {
        if (m_send_error != 0) [[unlikely]]
            throw_error(m_send_error, "send to");
        return m_send ? send_backlog() : 0;
    }
    /// From now on writes are send calls, never queued (for a transport layered on this one,
    /// which closes it without waiting for a backlog). Errors: std::logic_error while a send is
    /// queued.
    void stop_queueing_sends();
    void wait_readable() override;
    void wait_writable() override;
    void cancel_wait_readable() noexcept override;
    void cancel_wait_writable() noexcept override;
    [[nodiscard]] bool can_write_eof() const noexcept override { return true; }
    void write_eof() override;
    void close() noexcept override;
    void abort() noexcept override;
    [[nodiscard]] net::socket* socket() noexcept override { return &m_sock; }
    [[nodiscard]] net::socket_address local_address() const override;
    [[nodiscard]] net::socket_address peer_address() const override;

  private:
    /// A wait: the poll operation and the way back from it to the transport.
    struct wait_slot {
        io_operation op;
        socket_transport* self = nullptr;
    };
    enum class mode : std::uint8_t { readiness, direct, multishot };

    static constexpr std::uint32_t no_chunk = ~std::uint32_t{0};
    /// Multishot mode: unread bytes past which the recv is stopped (re-armed at half of it).
    static constexpr std::uint32_t read_high_water = 64 * 1024;
    /// m_read_end while the stream goes on.
    static constexpr int no_end = 1;

    [[nodiscard]] bool loop_alive() const noexcept { return !m_loop_ref.is_closed(); }
    /// A recv or send tried now through backend::try_transfer: the count, or would_block.
    std::int64_t transfer(io_kind kind, void* buf, std::size_t len);
    /// Prepares the poll operation of a wait (its constant fields).
    void prepare(wait_slot& w, io_kind kind) noexcept;
    [[noreturn]] void throw_error(int err, const char* call) const;
    void arm(wait_slot& w);
    void disarm(wait_slot& w, bool& armed) noexcept;
    void shut(bool reset) noexcept;
    static void on_read_ready(io_operation* op) noexcept;
    static void on_write_ready(io_operation* op) noexcept;
    /// Multishot mode.
    std::int64_t read_chunks(std::span<std::byte> buf);
    void arm_recv();
    void release_chunks() noexcept;
    void report_soon();
    static void on_chunk(io_operation* op) noexcept;
    /// Queued sends.
    std::int64_t queue_send(std::span<const std::byte> buf);
    void send_done(std::int64_t r) noexcept;
    [[nodiscard]] std::size_t send_backlog() const noexcept;
    static void on_sent(io_operation* op) noexcept;

    net::socket m_sock;
    backend* m_backend = nullptr;
    loop_handle m_loop_ref;
    wait_slot m_read_wait;
    // Allocated at the first write that has to wait: most connections never need it.
    std::unique_ptr<wait_slot> m_write_wait;
    bool m_read_armed = false;
    bool m_write_armed = false;
    /// The last recv was short: the socket's receive queue was empty then. Until the next
    /// readiness report, a recv could only find what arrived since, which the backend would
    /// report as an event and (its readiness bit being clear) answer with "would block" anyway:
    /// try_read says so at once, and the stream waits for the report.
    bool m_read_drained = false;
    mode m_mode = mode::readiness;

    // Multishot mode (m_read_wait.op is the multishot recv).
    const provided_buffer_pool* m_pool = nullptr;
    std::uint32_t m_head = no_chunk;  ///< the oldest chunk not fully read
    std::uint32_t m_tail = no_chunk;  ///< the newest chunk
    std::uint32_t m_head_offset = 0;  ///< bytes of m_head already read
    std::uint32_t m_unread = 0;       ///< bytes held in chunks
    int m_read_end = no_end;          ///< after the chunks: 0 (end of stream) or -errno
    bool m_recv_armed : 1 = false;    ///< the multishot recv is in the backend
    bool m_recv_stopping : 1 = false; ///< stop() was asked (backpressure)
    bool m_read_waiting : 1 = false;  ///< wait_readable() is armed
    callback_handle m_report;         ///< a wait armed while data was already here

    // Queued sends (m_queue_sends).
    bool m_queue_sends = false;
    bool m_send_waiting = false;   ///< wait_writable() waits for the queued send
    bool m_eof_after_send = false; ///< write_eof() shuts down once the queued send is done
    int m_send_error = 0;          ///< errno of a queued send that failed
    /// The send in flight, with a copy of its bytes (the caller's buffer does not outlive
    /// try_write), or null. Slots come from a per-thread pool and go back as soon as their send
    /// is done, so an idle connection holds none.
    send_slot* m_send = nullptr;
};

} // namespace corio::detail

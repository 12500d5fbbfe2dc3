#pragma once

#include "corio/io/transport.hpp"
#include "corio/runtime/loop_handle.hpp"

#include "backend/backend.hpp"
#include "sys/posix/unique_fd.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace corio {
class event_loop;
}

namespace corio::detail {

/// The transport of one direction of a pipe, FIFO, tty or other non-socket fd (asyncio's
/// _UnixReadPipeTransport / _UnixWritePipeTransport): read(2) or write(2) made directly on the
/// non-blocking fd, and waits as poll operations of the loop's backend, as socket_transport does.
/// A regular file (or /dev/null) works too: its calls never report EAGAIN, so no wait is ever
/// armed (epoll could not watch it).
///
/// A write pipe whose reader is gone fails with EPIPE: SIGPIPE is ignored process-wide once a
/// write pipe is made (see ignore_sigpipe). A write pipe can write_eof(): that closes the fd,
/// which is how a child sees the end of its stdin.
///
/// Loop lifetime: as socket_transport, it may outlive its loop and then only closes its fd.
class pipe_transport final : public transport {
  public:
    /// Takes `fd` (made non-blocking by the caller) for reading (`writable` false) or writing.
    pipe_transport(event_loop& loop, sys::unique_fd fd, bool writable);
    ~pipe_transport() override { close(); }

    std::int64_t try_read(std::span<std::byte> buf) override;
    std::int64_t try_write(std::span<const std::byte> buf) override;
    void wait_readable() override;
    void wait_writable() override;
    void cancel_wait_readable() noexcept override;
    void cancel_wait_writable() noexcept override;
    [[nodiscard]] bool can_write_eof() const noexcept override { return m_writable; }
    void write_eof() override;
    void close() noexcept override;

    [[nodiscard]] int fd() const noexcept { return m_fd.get(); }

  private:
    [[nodiscard]] bool loop_alive() const noexcept { return !m_loop_ref.is_closed(); }
    void arm(bool write);
    static void on_ready(io_operation* op) noexcept;

    sys::unique_fd m_fd;
    backend* m_backend = nullptr;
    loop_handle m_loop_ref;
    // The one wait of this direction (a pipe end is either read or written); first member of
    // nothing else, so the completion finds the transport through m_self.
    struct wait_slot {
        io_operation op;
        pipe_transport* self = nullptr;
    } m_wait;
    bool m_writable = false;
    bool m_armed = false;
};

/// Sets SIGPIPE to SIG_IGN if it is SIG_DFL (what Python does at start-up), so that a write to a
/// pipe whose reader has gone fails with EPIPE instead of killing the process. A program that
/// installed its own SIGPIPE action keeps it. Children spawned by corio get SIG_DFL back.
void ignore_sigpipe() noexcept;

} // namespace corio::detail

#pragma once

#include "backend/backend.hpp"
#include "sys/posix/unique_fd.hpp"
#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace corio::detail {

/// The Linux epoll backend.
///
/// Each fd is registered once, level-triggered, with the union of the directions that have
/// waiters; interest in a direction is dropped lazily, only when an event arrives that nobody
/// waits for, so a steady stream of operations on an fd costs no epoll_ctl. Waits use
/// epoll_pwait2 for nanosecond timeouts (falling back to epoll_wait, rounded up to the next
/// millisecond, on kernels before 5.11). The waker is an eventfd.
class epoll_backend final : public backend {
  public:
    epoll_backend();
    ~epoll_backend() override;

    [[nodiscard]] const char* name() const noexcept override { return "epoll"; }
    void submit(io_operation& op) override;
    bool cancel(io_operation& op) noexcept override;
    void forget_fd(int fd) noexcept override;
    [[nodiscard]] bool has_pending() const noexcept override { return m_pending != 0; }
    void wait(std::optional<std::chrono::nanoseconds> timeout) override;
    [[nodiscard]] std::shared_ptr<waker> get_waker() const override;

  private:
    struct fd_entry {
        // FIFO lists of waiting operations, linked through io_operation::m_backend_next.
        io_operation* readers = nullptr;
        io_operation* writers = nullptr;
        // The events the kernel has for this fd; 0 when it is not in the epoll set.
        std::uint32_t registered = 0;
    };
    class eventfd_waker;

    static io_operation*& list_for(fd_entry& e, io_kind k) noexcept {
        return k == io_kind::poll_readable ? e.readers : e.writers;
    }
    static std::uint32_t wanted(const fd_entry& e) noexcept;
    /// Makes the kernel's interest for `fd` equal to `events` (0 removes the fd).
    void set_interest(int fd, fd_entry& e, std::uint32_t events);
    void complete_all(io_operation*& list, int revents) noexcept;
    int epoll_wait_for(std::optional<std::chrono::nanoseconds> timeout);

    sys::unique_fd m_epoll;
    std::shared_ptr<eventfd_waker> m_waker;
    std::vector<fd_entry> m_fds; // indexed by fd
    std::size_t m_pending = 0;   // submitted operations not yet completed or cancelled
    bool m_have_pwait2 = true;
    epoll_event m_events[256];
};

} // namespace corio::detail

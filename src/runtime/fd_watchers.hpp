#pragma once

#include "corio/core/scheduler.hpp"

#include "backend/backend.hpp"

#include <functional>
#include <memory>
#include <unordered_map>

namespace corio {
class event_loop;
}

namespace corio::detail {

/// The watches of event_loop::add_reader / add_writer: one poll operation per fd and direction,
/// resubmitted after each callback, so a watch costs no allocation per event beyond the
/// callback's trip through call_soon (asyncio runs reader callbacks as handles too).
class fd_watchers {
  public:
    explicit fd_watchers(event_loop& loop) noexcept : m_loop(loop) {}
    fd_watchers(const fd_watchers&) = delete;
    fd_watchers& operator=(const fd_watchers&) = delete;
    ~fd_watchers();

    /// Errors: std::system_error (EBADF) from the backend; std::bad_alloc.
    void add(int fd, bool write, std::function<void()> callback);
    bool remove(int fd, bool write) noexcept;

  private:
    struct watch;
    // The operation first in a standard-layout struct, so that the completion gets from the
    // operation back to its watch.
    struct poll_slot {
        io_operation op;
        watch* self = nullptr;
    };
    struct watch {
        poll_slot slot;
        fd_watchers* owner = nullptr;
        std::function<void()> fn;
        // The call_soon that runs fn after a readiness event; cancelled by remove().
        callback_handle call;
        bool write = false;
        bool pending = false; // op is in the backend
        bool removed = false;
    };

    using map = std::unordered_map<int, std::shared_ptr<watch>>;
    map& table(bool write) noexcept { return write ? m_writers : m_readers; }
    /// Submits the poll; queues the callback at once if the fd is ready now.
    void arm(const std::shared_ptr<watch>& w);
    void queue_callback(const std::shared_ptr<watch>& w);
    static void on_ready(io_operation* op) noexcept;
    static void fire(const std::shared_ptr<watch>& w);

    event_loop& m_loop;
    map m_readers;
    map m_writers;
};

} // namespace corio::detail

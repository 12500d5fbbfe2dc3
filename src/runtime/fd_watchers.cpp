#include "runtime/fd_watchers.hpp"

#include "corio/runtime/event_loop.hpp"

#include <exception>
#include <utility>

namespace corio::detail {

fd_watchers::~fd_watchers() {
    for (map* m : {&m_readers, &m_writers}) {
        for (auto& [fd, w] : *m) {
            if (w->pending)
                m_loop.io_backend().cancel(w->slot.op);
            w->pending = false;
            w->removed = true;
            // The queued callback holds the watch and the watch its handle: break the cycle.
            w->call.cancel();
            w->call = callback_handle();
        }
    }
}

void fd_watchers::add(int fd, bool write, std::function<void()> callback) {
    map& m = table(write);
    if (auto it = m.find(fd); it != m.end()) {
        it->second->fn = std::move(callback); // asyncio replaces the callback
        return;
    }
    auto w = std::make_shared<watch>();
    w->owner = this;
    w->slot.self = w.get();
    w->fn = std::move(callback);
    w->write = write;
    w->slot.op.m_kind = write ? io_kind::poll_writable : io_kind::poll_readable;
    w->slot.op.m_fd = fd;
    w->slot.op.m_complete = &on_ready;
    arm(w); // throws before the watch is recorded: nothing to undo
    m.emplace(fd, std::move(w));
}

bool fd_watchers::remove(int fd, bool write) noexcept {
    map& m = table(write);
    auto it = m.find(fd);
    if (it == m.end())
        return false;
    std::shared_ptr<watch> w = std::move(it->second);
    m.erase(it);
    if (w->pending)
        m_loop.io_backend().cancel(w->slot.op);
    w->pending = false;
    w->removed = true;
    // The queued callback holds the watch and the watch its handle: break the cycle.
    w->call.cancel();
    w->call = callback_handle();
    // The fd is the caller's to close now: the backend must not keep state about it.
    if (!m_readers.contains(fd) && !m_writers.contains(fd))
        m_loop.io_backend().forget_fd(fd);
    return true;
}

void fd_watchers::arm(const std::shared_ptr<watch>& w) {
    if (m_loop.io_backend().submit(w->slot.op))
        queue_callback(w); // ready now
    else
        w->pending = true;
}

void fd_watchers::queue_callback(const std::shared_ptr<watch>& w) {
    // The callback runs from the ready queue, not from inside the backend's wait, so that it
    // may add and remove watches freely.
    w->call = m_loop.call_soon([w] { fire(w); });
}

void fd_watchers::on_ready(io_operation* op) noexcept {
    // op is the first member of its watch, which its owner's table keeps alive while pending.
    auto* raw = reinterpret_cast<watch*>(op);
    raw->pending = false;
    fd_watchers& self = *raw->owner;
    const std::shared_ptr<watch>& w = self.table(raw->write).at(raw->slot.op.m_fd);
    try {
        self.queue_callback(w);
    } catch (...) {
        // Out of memory for the callback: report it; the watch stays armed for the next event.
        self.m_loop.call_exception_handler(exception_context{
            "add_reader/add_writer: could not queue the callback", std::current_exception(), {}});
        try {
            self.arm(w);
        } catch (...) {
        }
    }
}

void fd_watchers::fire(const std::shared_ptr<watch>& w) {
    if (w->removed)
        return;
    w->call = callback_handle();
    struct rearm {
        const std::shared_ptr<watch>& w;
        ~rearm() {
            // After the callback, even one that threw (its exception goes to the handler, as
            // asyncio's does): watch again unless it removed or replaced the watch.
            if (w->removed || w->pending)
                return;
            try {
                w->owner->arm(w);
            } catch (...) {
                w->owner->m_loop.call_exception_handler(
                    exception_context{"add_reader/add_writer: could not watch the fd again",
                                      std::current_exception(),
                                      {}});
            }
        }
    } guard{w};
    // A copy: the callback may replace itself through add_reader.
    std::function<void()> fn = w->fn;
    fn();
}

} // namespace corio::detail

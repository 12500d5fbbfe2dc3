#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/task.hpp"
#include "corio/io/detail/read_awaiter.hpp"
#include "corio/io/detail/write_awaiter.hpp"
#include "corio/io/stream_options.hpp"
#include "corio/io/transport.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include "io/byte_buffer.hpp"
#include "io/counted_ref.hpp"
#include "io/socket_transport.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>

namespace corio {
class event_loop;
class scheduler;
} // namespace corio

namespace corio::detail {

class server_state;

/// The tasks waiting on a stream's writer side (drain, write, wait_closed), oldest first: rarely
/// more than one, so a head pointer is enough (a push walks the list; removal is O(1)).
class writer_waiters {
  public:
    [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
    [[nodiscard]] sync_waiter* front() const noexcept { return m_head; }
    void push_back(sync_waiter& w) noexcept {
        w.m_prev = nullptr;
        w.m_next = nullptr;
        if (!m_head) {
            m_head = &w;
        } else {
            sync_waiter* t = m_head;
            while (t->m_next)
                t = t->m_next;
            t->m_next = &w;
            w.m_prev = t;
        }
        w.m_linked = true;
    }
    /// Unlinks `w` if it is linked.
    void remove(sync_waiter& w) noexcept {
        if (!w.m_linked)
            return;
        if (w.m_prev)
            w.m_prev->m_next = w.m_next;
        else
            m_head = w.m_next;
        if (w.m_next)
            w.m_next->m_prev = w.m_prev;
        w.m_prev = w.m_next = nullptr;
        w.m_linked = false;
    }

  private:
    sync_waiter* m_head = nullptr;
};

/// Tells a start_server server when a connection's handler task ends: a done_link on that task,
/// in the server's list of running handlers. Embedded in the stream state; moved to the heap if
/// the state goes first (a handler that dropped its streams and runs on).
///
/// A watch holds no reference: the server detaches the watches it still has when it goes, and a
/// watch whose task was destroyed unfinished (a loop closing abandons its tasks, dropping their
/// done_links without calling them) is accounted for when the watch itself goes.
struct handler_watch : done_link {
    /// The server, while the watch is in its list (null once detached).
    server_state* m_server = nullptr;
    /// The stream state that embeds the watch, or null for a heap watch.
    stream_state* m_stream = nullptr;
    task_header* m_task = nullptr;
    /// Links in the server's list of running handlers.
    handler_watch* m_wprev = nullptr;
    handler_watch* m_wnext = nullptr;
};

/// The shared state of one connection: the transport, the read buffer, the write buffer and the
/// tasks waiting on them (asyncio's transport + StreamReader + StreamReaderProtocol in one object).
/// stream_reader and stream_writer handles, the operations waiting on it, and a server's
/// bookkeeping hold counted references; the last one closes it (after flushing, see release()).
///
/// Single-threaded: everything happens on the loop thread that created it.
///
/// Invariants:
/// - At most one read is parked (m_reader), and the transport's read wait is armed exactly while
///   it is, except transiently inside on_readable().
/// - The transport's write wait is armed exactly while m_wbuf is not empty or the transport has
///   a write backlog (queued sends) that flush() has seen, and the stream has not failed or been
///   aborted. Backlog bytes count as buffered for the high-water mark, close and write_eof.
/// - m_closed implies the transport is closed, m_wbuf is empty and no wait is armed.
class stream_state final : public transport_events {
  public:
    /// Over a socket, for use on `loop`.
    stream_state(event_loop& loop, net::socket s, const stream_options& o);
    /// Over any transport.
    stream_state(std::unique_ptr<transport> t, const stream_options& o);
    stream_state(const stream_state&) = delete;
    stream_state& operator=(const stream_state&) = delete;

    void add_ref() noexcept { ++m_refs; }
    /// Drops a reference. The last one closes the stream: at once when nothing is left to send,
    /// otherwise in a small background task that flushes the buffer first (asyncio's transport
    /// flushing after close()).
    void release() noexcept;

    // --- reading (stream_reader) ----------------------------------------------------------

    /// Called by a read's await_suspend: runs it now; true when it has its outcome.
    /// Errors: std::logic_error when another read is parked.
    bool begin_read(stream_read_op& op);
    /// Parks `op` (its task suspends) until the transport lets it complete.
    void park(stream_read_op& op);
    /// Withdraws a parked read (cancellation, or its frame destroyed): the bytes it had taken go
    /// back to the buffer.
    void withdraw(stream_read_op& op) noexcept;
    /// Gives back the bytes a read that will not complete had taken.
    void give_back(stream_read_op& op) noexcept;
    std::optional<std::size_t> try_read(std::span<std::byte> buf);
    [[nodiscard]] bool at_eof() const noexcept { return m_eof && m_rbuf.empty(); }
    [[nodiscard]] std::exception_ptr exception() const noexcept { return m_error; }
    [[nodiscard]] std::size_t buffered() const noexcept { return m_rbuf.size(); }
    [[nodiscard]] std::size_t limit() const noexcept { return m_limit; }

    // --- writing (stream_writer) ----------------------------------------------------------

    void write(std::span<const std::byte> data);
    /// True when a waiter of kind `w` has nothing to wait for.
    [[nodiscard]] bool write_ready(write_wait w) const noexcept;
    void enqueue(stream_write_waiter& w) noexcept;
    void dequeue(stream_write_waiter& w) noexcept { m_writers.remove(w); }
    /// After a writer-side wait: throws the stream's error (or EPIPE for a drain whose data was
    /// dropped).
    void check_after_wait(write_wait w) const;
    void write_eof();
    [[nodiscard]] bool can_write_eof() const noexcept { return get_transport().can_write_eof(); }
    void close() noexcept;
    void abort() noexcept;
    [[nodiscard]] bool is_closing() const noexcept { return m_closing; }
    [[nodiscard]] bool is_closed() const noexcept { return m_closed; }
    void set_write_limits(std::size_t high, std::size_t low);
    [[nodiscard]] std::size_t write_buffer_size() const noexcept { return m_wbuf.size(); }

    [[nodiscard]] transport& get_transport() const noexcept {
        return m_custom ? *m_custom : const_cast<socket_transport&>(m_socket);
    }

    // --- layering (start_tls) --------------------------------------------------------------

    /// For a transport layered on this stream's own (corio::tls's start_tls): calls
    /// `make(lower)`, where `lower` owns or refers to the current transport, and makes the
    /// transport `make` returns the stream's transport: the reader and writer then go through it.
    /// `make` must move from `lower` only once it can no longer fail (if it throws with `lower`
    /// untouched, the stream is unchanged). The stream state outlives what `make` returns.
    /// Errors: std::logic_error when bytes are buffered in the reader or the writer, a read is
    /// waiting, the end of the stream was read, write_eof() was called or the stream is closing;
    /// the stream's error if it failed; what `make` throws.
    void layer_transport(
        const std::function<std::unique_ptr<transport>(std::unique_ptr<transport>&)>& make);

    // --- start_server bookkeeping ----------------------------------------------------------

    /// The server this connection belongs to (null for others), and its links in the server's
    /// list of open connections.
    server_state* m_server = nullptr;
    stream_state* m_srv_prev = nullptr;
    stream_state* m_srv_next = nullptr;
    /// Watches the handler task while it runs (m_watch.m_server is set).
    handler_watch m_watch;

    // --- transport_events ------------------------------------------------------------------
    void on_readable() noexcept override;
    void on_writable() noexcept override;

  private:
    ~stream_state();

    // The transport, called without a virtual call for the socket transport.
    std::int64_t read_some(std::span<std::byte> buf) {
        if (m_custom) [[unlikely]]
            return m_custom->try_read(buf);
        return m_socket.try_read(buf);
    }
    std::int64_t write_some(std::span<const std::byte> buf) {
        if (m_custom) [[unlikely]]
            return m_custom->try_write(buf);
        return m_socket.try_write(buf);
    }
    /// The transport's write backlog. Errors: the failure of a queued send.
    [[nodiscard]] std::size_t backlog() const {
        if (m_custom) [[unlikely]]
            return m_custom->write_backlog();
        return m_socket.write_backlog();
    }
    /// The bytes the transport holds, not yet in the kernel (after a failed queued send: none;
    /// its failure reached fail() when it was reported).
    [[nodiscard]] std::size_t unsent() const noexcept;
    /// arm_write, failing the stream when the transport cannot arm the wait (then rethrows).
    void arm_write_or_fail();
    /// read_some, failing the stream when the transport fails (then rethrows).
    std::int64_t receive(std::span<std::byte> buf);

    /// The step of a read: true once it has its outcome (a result, or an error in op.m_error).
    bool run_read(stream_read_op& op) noexcept;
    bool run_until(text_read_op& op);
    bool run_exactly(text_read_op& op);
    bool run_all(text_read_op& op);
    /// Completes the parked read now (the stream ended or failed).
    void finish_parked_read() noexcept;
    void arm_read();
    void arm_write();
    void flush() noexcept;
    /// The transport failed with `e`: the connection is lost.
    void fail(std::exception_ptr e) noexcept;
    /// The buffer is flushed after close(): close the transport.
    void finish_close() noexcept;
    /// Wakes the writer-side waiters whose wait is over.
    void wake_writers() noexcept;
    /// Server bookkeeping (server.cpp): the transport closed; the state goes while its handler
    /// task still runs.
    void closed_for_server() noexcept;
    void detach_watch() noexcept;
    static task<void> linger(counted_ref<stream_state> ref);

    std::uint32_t m_refs = 0;
    std::uint32_t m_limit;
    std::uint32_t m_high;
    std::uint32_t m_low;
    /// The end of the stream was read, or reading stopped (close, abort, failure).
    bool m_eof = false;
    bool m_closing = false;
    bool m_closed = false;
    bool m_aborted = false;
    /// write_eof() was called; m_eof_sent once the transport half-closed.
    bool m_eof_pending = false;
    bool m_eof_sent = false;
    /// The writer is above the high-water mark and has not come back to the low-water mark.
    bool m_paused = false;
    /// release() tried to hand the stream to a flushing task once already.
    bool m_linger_tried = false;
    byte_buffer m_rbuf;
    byte_buffer m_wbuf;
    stream_read_op* m_reader = nullptr;
    writer_waiters m_writers;
    std::exception_ptr m_error;
    std::unique_ptr<transport> m_custom;
    socket_transport m_socket;
};

/// The scratch buffer of the loop thread: a read with nothing buffered receives into it, and only
/// the bytes a read does not take are copied into the stream's own buffer.
std::span<std::byte> scratch_buffer();

} // namespace corio::detail

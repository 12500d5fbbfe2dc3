#include "io/stream_state.hpp"

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/io/incomplete_read_error.hpp"
#include "corio/io/limit_overrun_error.hpp"
#include "corio/runtime/event_loop.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace corio::detail {

namespace {

constexpr std::size_t scratch_size = 64 * 1024;
constexpr std::size_t max_limit = std::size_t{1} << 30;

thread_local std::unique_ptr<std::byte[]> t_scratch;

std::string_view chars(std::span<const std::byte> b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::span<const std::byte> bytes(std::string_view s) noexcept {
    return std::as_bytes(std::span(s.data(), s.size()));
}

/// Where the earliest separator match ends in `text` (searching from `from`), as asyncio's
/// readuntil decides between several separators: the match that ends first wins.
struct match {
    std::size_t start = std::string_view::npos;
    std::size_t end = std::string_view::npos;
};

match find_earliest(std::string_view text, std::size_t from, const std::string_view* seps,
                    std::size_t count) noexcept {
    match m;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t at = text.find(seps[i], from);
        if (at == std::string_view::npos)
            continue;
        const std::size_t end = at + seps[i].size();
        if (end < m.end) {
            m.start = at;
            m.end = end;
        }
    }
    return m;
}

/// The stream's own socket transport seen as the lower transport of a layered one (TLS): the
/// stream state owns both and outlives the layered transport, so this only forwards. Readiness
/// goes straight from the socket transport to the layered one (set when a wait is armed).
class embedded_transport_ref final : public transport {
  public:
    explicit embedded_transport_ref(socket_transport& t) noexcept : m_t(t) {}

    std::int64_t try_read(std::span<std::byte> buf) override { return m_t.try_read(buf); }
    std::int64_t try_write(std::span<const std::byte> buf) override { return m_t.try_write(buf); }
    void wait_readable() override {
        m_t.set_events(m_events);
        m_t.wait_readable();
    }
    void wait_writable() override {
        m_t.set_events(m_events);
        m_t.wait_writable();
    }
    void cancel_wait_readable() noexcept override { m_t.cancel_wait_readable(); }
    void cancel_wait_writable() noexcept override { m_t.cancel_wait_writable(); }
    [[nodiscard]] bool can_write_eof() const noexcept override { return m_t.can_write_eof(); }
    void write_eof() override { m_t.write_eof(); }
    void close() noexcept override { m_t.close(); }
    void abort() noexcept override { m_t.abort(); }
    [[nodiscard]] net::socket* socket() noexcept override { return m_t.socket(); }
    [[nodiscard]] net::socket_address local_address() const override { return m_t.local_address(); }
    [[nodiscard]] net::socket_address peer_address() const override { return m_t.peer_address(); }

  private:
    socket_transport& m_t;
};

} // namespace

std::span<std::byte> scratch_buffer() {
    if (!t_scratch)
        t_scratch = std::make_unique_for_overwrite<std::byte[]>(scratch_size);
    return {t_scratch.get(), scratch_size};
}

// ----------------------------------------------------------------------------- lifetime ---

static void check_options(const stream_options& o) {
    if (o.limit == 0 || o.limit > max_limit)
        throw std::invalid_argument("corio: stream limit must be in 1 byte .. 1 GiB");
    if (o.write_low_water > o.write_high_water || o.write_high_water > max_limit)
        throw std::invalid_argument("corio: write_low_water must be <= write_high_water <= 1 GiB");
}

stream_state::stream_state(event_loop& loop, net::socket s, const stream_options& o)
    : m_limit(static_cast<std::uint32_t>(o.limit)),
      m_high(static_cast<std::uint32_t>(o.write_high_water)),
      m_low(static_cast<std::uint32_t>(o.write_low_water)), m_socket(loop, std::move(s)) {
    check_options(o);
    m_socket.set_events(this);
}

stream_state::stream_state(std::unique_ptr<transport> t, const stream_options& o)
    : m_limit(static_cast<std::uint32_t>(o.limit)),
      m_high(static_cast<std::uint32_t>(o.write_high_water)),
      m_low(static_cast<std::uint32_t>(o.write_low_water)), m_custom(std::move(t)) {
    check_options(o);
    if (!m_custom)
        throw std::invalid_argument("corio: streams over a null transport");
    m_custom->set_events(this);
}

stream_state::~stream_state() {
    assert(!m_reader && m_writers.empty());
    if (!m_closed) {
        m_closed = true;
        get_transport().close();
    }
    closed_for_server();
    detach_watch();
}

void stream_state::release() noexcept {
    assert(m_refs > 0);
    if (--m_refs != 0)
        return;
    if (!m_linger_tried && !m_closed && (!m_wbuf.empty() || unsent() != 0)) {
        // Bytes are still buffered: flush them before closing, as asyncio's transport does after
        // close(). A task owns the stream meanwhile, so that a loop that ends (corio::run
        // cancels what is left; a closed loop destroys it) still closes the connection.
        m_linger_tried = true;
        scheduler* s = scheduler::current();
        if (s && s->is_running()) {
            m_refs = 1;
            try {
                create_task(*s, linger(counted_ref<stream_state>::adopt(this)), "corio flush");
            } catch (...) {
                // The task's reference was dropped with it: release() ran again and closed.
            }
            return;
        }
    }
    delete this;
}

task<void> stream_state::linger(counted_ref<stream_state> ref) {
    stream_state* s = ref.get();
    s->close();
    if (s->m_closed)
        co_return;
    try {
        stream_write_waiter closed(s, write_wait::closed);
        co_await closed;
    } catch (const cancelled_error&) {
        s->abort();
        throw;
    } catch (...) {
        // The connection failed while flushing; nobody is left to tell.
    }
}

// --------------------------------------------------------------------------- layering ---

void stream_state::layer_transport(
    const std::function<std::unique_ptr<transport>(std::unique_ptr<transport>&)>& make) {
    if (m_error)
        std::rethrow_exception(m_error);
    const char* why = nullptr;
    if (m_closing)
        why = "the stream is closed";
    else if (m_reader)
        why = "a read is waiting on the stream";
    else if (!m_rbuf.empty())
        why = "bytes are still buffered in the reader";
    else if (!m_wbuf.empty())
        why = "bytes are still buffered in the writer";
    else if (m_eof)
        why = "the end of the stream was read";
    else if (m_eof_pending)
        why = "write_eof() was called";
    else if (unsent() != 0)
        why = "bytes written are still being sent (await them first)";
    if (why)
        throw std::logic_error(std::string("corio: cannot layer a transport (start_tls): ") + why);
    // No wait is armed now (no read is parked, nothing is buffered to write).
    const bool was_custom = m_custom != nullptr;
    if (!was_custom) // the layered transport closes the socket without waiting for a backlog
        m_socket.stop_queueing_sends();
    std::unique_ptr<transport> lower =
        was_custom ? std::move(m_custom) : std::make_unique<embedded_transport_ref>(m_socket);
    std::unique_ptr<transport> upper;
    try {
        upper = make(lower);
        if (!upper)
            throw std::invalid_argument("corio: layer_transport: no transport was made");
    } catch (...) {
        if (was_custom && lower)
            m_custom = std::move(lower); // not taken: the stream is unchanged
        throw;
    }
    m_custom = std::move(upper);
    m_custom->set_events(this);
}

// ------------------------------------------------------------------------------ reading ---

std::int64_t stream_state::receive(std::span<std::byte> buf) {
    try {
        return read_some(buf);
    } catch (...) {
        fail(std::current_exception());
        throw;
    }
}

bool stream_state::begin_read(stream_read_op& op) {
    if (m_reader)
        throw std::logic_error(
            "corio::stream_reader: another task is already waiting to read this stream");
    if (op.m_read_kind == read_kind::wait)
        return !m_rbuf.empty() || m_eof || m_error;
    return run_read(op);
}

void stream_state::arm_read() {
    if (m_custom) [[unlikely]]
        m_custom->wait_readable();
    else
        m_socket.wait_readable();
}

void stream_state::park(stream_read_op& op) {
    m_reader = &op;
    try {
        arm_read();
    } catch (...) {
        m_reader = nullptr;
        throw;
    }
}

void stream_state::give_back(stream_read_op& o) noexcept {
    if (o.m_read_kind != read_kind::exactly && o.m_read_kind != read_kind::all)
        return;
    auto& op = static_cast<text_read_op&>(o);
    if (op.m_read_kind == read_kind::exactly)
        op.m_result.resize(op.m_offset);
    if (!op.m_result.empty()) {
        try {
            m_rbuf.prepend(bytes(op.m_result));
        } catch (...) {
            // Out of memory: the bytes are lost with the read.
        }
    }
    op.m_result.clear();
    op.m_offset = 0;
}

void stream_state::withdraw(stream_read_op& op) noexcept {
    if (m_reader == &op) {
        m_reader = nullptr;
        get_transport().cancel_wait_readable();
    }
    give_back(op);
}

void stream_state::on_readable() noexcept {
    stream_read_op* op = m_reader;
    if (!op)
        return;
    // Detached while it runs: a failure inside it must not complete it a second time.
    m_reader = nullptr;
    if (op->m_read_kind != read_kind::wait && !run_read(*op)) {
        m_reader = op;
        try {
            arm_read();
            return;
        } catch (...) {
            m_reader = nullptr;
            give_back(*op);
            op->m_error = std::current_exception();
        }
    }
    op->m_done = true;
    op->m_parked = false;
    op->m_task->wake();
}

void stream_state::finish_parked_read() noexcept {
    stream_read_op* op = m_reader;
    if (!op)
        return;
    m_reader = nullptr;
    get_transport().cancel_wait_readable();
    // m_eof or m_error is set: the read completes without touching the transport.
    [[maybe_unused]] const bool done = op->m_read_kind == read_kind::wait || run_read(*op);
    assert(done);
    op->m_done = true;
    op->m_parked = false;
    op->m_task->wake();
}

bool stream_state::run_read(stream_read_op& o) noexcept {
    try {
        if (m_error) {
            o.m_error = m_error;
            return true;
        }
        switch (o.m_read_kind) {
        case read_kind::wait:
            return true;
        case read_kind::some_into: {
            auto& b = static_cast<buffer_read_op&>(o);
            if (!m_rbuf.empty()) {
                const std::size_t n = std::min(b.m_n, m_rbuf.size());
                std::memcpy(b.m_buf, m_rbuf.data(), n);
                m_rbuf.consume(n);
                b.m_n = n;
                return true;
            }
            if (m_eof || b.m_n == 0) {
                b.m_n = 0;
                return true;
            }
            const std::int64_t r = receive({b.m_buf, b.m_n});
            if (r == transport::would_block)
                return false;
            if (r == 0)
                m_eof = true;
            b.m_n = static_cast<std::size_t>(r);
            return true;
        }
        case read_kind::up_to: {
            auto& op = static_cast<text_read_op&>(o);
            if (op.m_n == 0)
                return true;
            if (!m_rbuf.empty()) {
                const std::size_t n = std::min(op.m_n, m_rbuf.size());
                op.m_result.assign(chars(m_rbuf.view()).substr(0, n));
                m_rbuf.consume(n);
                return true;
            }
            if (m_eof)
                return true;
            std::span<std::byte> sc = scratch_buffer();
            if (op.m_n < sc.size())
                sc = sc.first(op.m_n);
            const std::int64_t r = receive(sc);
            if (r == transport::would_block)
                return false;
            if (r == 0)
                m_eof = true;
            else
                op.m_result.assign(chars(sc.first(static_cast<std::size_t>(r))));
            return true;
        }
        case read_kind::all:
            return run_all(static_cast<text_read_op&>(o));
        case read_kind::exactly:
            return run_exactly(static_cast<text_read_op&>(o));
        case read_kind::until:
        case read_kind::line:
        case read_kind::next_line:
            return run_until(static_cast<text_read_op&>(o));
        }
    } catch (...) {
        o.m_error = std::current_exception();
    }
    return true;
}

bool stream_state::run_all(text_read_op& op) {
    if (!m_rbuf.empty()) {
        op.m_result.append(chars(m_rbuf.view()));
        m_rbuf.clear();
    }
    while (!m_eof) {
        const std::span<std::byte> sc = scratch_buffer();
        const std::int64_t r = receive(sc);
        if (r == transport::would_block)
            return false;
        if (r == 0)
            m_eof = true;
        else
            op.m_result.append(chars(sc.first(static_cast<std::size_t>(r))));
    }
    return true;
}

bool stream_state::run_exactly(text_read_op& op) {
    // m_offset counts the bytes of m_result already filled; m_result is sized n from the start,
    // so the transport reads straight into it.
    const std::size_t n = op.m_n;
    if (op.m_result.size() != n)
        op.m_result.resize(n);
    if (op.m_offset < n && !m_rbuf.empty()) {
        const std::size_t take = std::min(n - op.m_offset, m_rbuf.size());
        std::memcpy(op.m_result.data() + op.m_offset, m_rbuf.data(), take);
        m_rbuf.consume(take);
        op.m_offset += take;
    }
    while (op.m_offset < n) {
        if (m_eof) {
            op.m_result.resize(op.m_offset);
            std::string partial = std::move(op.m_result);
            op.m_result.clear();
            op.m_offset = 0;
            throw incomplete_read_error(std::move(partial), n);
        }
        const std::int64_t r =
            receive(std::as_writable_bytes(std::span(op.m_result)).subspan(op.m_offset));
        if (r == transport::would_block)
            return false;
        if (r == 0)
            m_eof = true;
        else
            op.m_offset += static_cast<std::size_t>(r);
    }
    return true;
}

bool stream_state::run_until(text_read_op& op) {
    const std::string_view* seps = op.m_seps;
    const std::size_t count = op.m_sep_count;
    const std::size_t min_len = seps[0].size();
    const std::size_t max_len = seps[count - 1].size();
    if (min_len == 0)
        throw std::invalid_argument("corio::stream_reader::readuntil: empty separator");
    const bool line = op.m_read_kind != read_kind::until;

    // asyncio's readline: on overrun, drop the line (through its '\n' if it has come).
    auto overrun = [&](const char* what, std::size_t consumed) {
        if (line) {
            const std::string_view text = chars(m_rbuf.view());
            if (consumed < text.size() && text.substr(consumed).starts_with(seps[0]))
                m_rbuf.consume(consumed + seps[0].size());
            else
                m_rbuf.clear();
            op.m_offset = 0;
        }
        throw limit_overrun_error(what, consumed);
    };

    for (;;) {
        const std::size_t size = m_rbuf.size();
        if (size >= op.m_offset + min_len) {
            const std::string_view text = chars(m_rbuf.view());
            const match m = find_earliest(text, op.m_offset, seps, count);
            if (m.end != std::string_view::npos) {
                if (m.start > m_limit)
                    overrun("Separator is found, but chunk is longer than limit", m.start);
                op.m_result.assign(text.substr(0, m.end));
                m_rbuf.consume(m.end);
                return true;
            }
            op.m_offset = size + 1 > max_len ? size + 1 - max_len : 0;
            if (op.m_offset > m_limit)
                overrun("Separator is not found, and chunk exceed the limit", op.m_offset);
        }
        if (m_eof) {
            std::string partial(chars(m_rbuf.view()));
            m_rbuf.clear();
            op.m_offset = 0;
            if (!line)
                throw incomplete_read_error(std::move(partial), std::nullopt);
            op.m_at_end = partial.empty();
            op.m_result = std::move(partial);
            return true;
        }
        // The buffer never needs more than this to find a separator or decide on an overrun.
        const std::size_t bound = std::size_t{m_limit} + max_len;
        if (m_rbuf.empty()) {
            // Fast path: receive into the loop's scratch buffer and keep only what follows the
            // separator; a line that arrives whole is never copied into the stream's buffer.
            // Everything available is taken (as asyncio's transport does), so an over-long line
            // that has fully arrived is dropped whole by readline.
            const std::span<std::byte> sc = scratch_buffer();
            const std::int64_t r = receive(sc);
            if (r == transport::would_block)
                return false;
            if (r == 0) {
                m_eof = true;
                continue;
            }
            const auto got = sc.first(static_cast<std::size_t>(r));
            const match m = find_earliest(chars(got), 0, seps, count);
            if (m.end != std::string_view::npos && m.start <= m_limit) {
                m_rbuf.append(got.subspan(m.end));
                op.m_result.assign(chars(got.first(m.end)));
                return true;
            }
            m_rbuf.append(got);
            continue;
        }
        const std::size_t room = bound > size ? bound - size : 1;
        std::span<std::byte> tail =
            m_rbuf.tail(1, std::min(room, std::max<std::size_t>(size, 4096)));
        if (tail.size() > room)
            tail = tail.first(room);
        const std::int64_t r = receive(tail);
        if (r == transport::would_block)
            return false;
        if (r == 0)
            m_eof = true;
        else
            m_rbuf.commit(static_cast<std::size_t>(r));
    }
}

std::optional<std::size_t> stream_state::try_read(std::span<std::byte> buf) {
    if (m_reader)
        throw std::logic_error(
            "corio::stream_reader: another task is already waiting to read this stream");
    if (m_error)
        std::rethrow_exception(m_error);
    if (!m_rbuf.empty()) {
        const std::size_t n = std::min(buf.size(), m_rbuf.size());
        std::memcpy(buf.data(), m_rbuf.data(), n);
        m_rbuf.consume(n);
        return n;
    }
    if (m_eof || buf.empty())
        return 0;
    const std::int64_t r = receive(buf);
    if (r == transport::would_block)
        return std::nullopt;
    if (r == 0)
        m_eof = true;
    return static_cast<std::size_t>(r);
}

// ------------------------------------------------------------------------------ writing ---

void stream_state::arm_write() {
    if (m_custom) [[unlikely]]
        m_custom->wait_writable();
    else
        m_socket.wait_writable();
}

void stream_state::arm_write_or_fail() {
    try {
        arm_write();
    } catch (...) {
        fail(std::current_exception());
        throw;
    }
}

void stream_state::write(std::span<const std::byte> data) {
    if (m_error)
        std::rethrow_exception(m_error);
    if (m_closing)
        throw std::system_error(EPIPE, std::generic_category(),
                                "corio::stream_writer: write on a closed stream");
    if (m_eof_pending)
        throw std::logic_error("corio::stream_writer: write after write_eof()");
    if (data.empty())
        return;
    if (m_wbuf.empty()) {
        // Nothing queued: send straight from the caller's bytes.
        std::int64_t r;
        try {
            r = write_some(data);
        } catch (...) {
            fail(std::current_exception());
            throw;
        }
        if (r > 0) {
            data = data.subspan(static_cast<std::size_t>(r));
            if (data.empty()) {
                // A transport that queues its sends holds the bytes until the kernel has them
                // (backlog() does not throw here: try_write raised a queued send's failure).
                if (backlog() > m_high) [[unlikely]] {
                    m_paused = true;
                    arm_write_or_fail();
                }
                return;
            }
        }
        // Only the rest is copied.
        std::memcpy(m_wbuf.tail(data.size(), data.size()).data(), data.data(), data.size());
        m_wbuf.commit(data.size());
        arm_write_or_fail();
    } else {
        m_wbuf.append(data); // geometric growth: small writes to a slow peer are amortised O(1)
    }
    if (m_wbuf.size() > m_high)
        m_paused = true;
}

void stream_state::on_writable() noexcept {
    flush();
}

void stream_state::flush() noexcept {
    std::size_t held;
    try {
        while (!m_wbuf.empty()) {
            const std::int64_t r = write_some(m_wbuf.view());
            if (r == transport::would_block)
                break;
            m_wbuf.consume(static_cast<std::size_t>(r));
        }
        held = m_wbuf.size() + backlog();
        if (held != 0)
            arm_write();
    } catch (...) {
        fail(std::current_exception());
        return;
    }
    // Drain waiters wake at the low-water mark, flushed ones once nothing is held.
    const bool unpaused = m_paused && held <= m_low;
    if (unpaused)
        m_paused = false;
    if (unpaused || (held == 0 && !m_writers.empty()))
        wake_writers();
    if (held != 0)
        return;
    if (m_eof_pending && !m_eof_sent) {
        m_eof_sent = true;
        try {
            get_transport().write_eof();
        } catch (...) {
            fail(std::current_exception());
            return;
        }
    }
    if (m_closing && !m_closed)
        finish_close();
}

std::size_t stream_state::unsent() const noexcept {
    try {
        return backlog();
    } catch (...) {
        return 0;
    }
}

void stream_state::enqueue(stream_write_waiter& w) noexcept {
    m_writers.push_back(w);
    if (w.m_what != write_wait::flushed)
        return;
    // The transport reports the end of its backlog only to an armed wait.
    try {
        arm_write();
    } catch (...) {
        fail(std::current_exception());
    }
}

bool stream_state::write_ready(write_wait w) const noexcept {
    switch (w) {
    case write_wait::drain:
        return m_error || m_closed || !m_paused;
    case write_wait::closed:
        return m_closed;
    case write_wait::flushed:
        return m_error || m_closed || (m_wbuf.empty() && unsent() == 0);
    }
    return true;
}

void stream_state::check_after_wait(write_wait w) const {
    if (m_error)
        std::rethrow_exception(m_error);
    if (w != write_wait::closed && m_aborted)
        throw std::system_error(EPIPE, std::generic_category(),
                                "corio::stream_writer: the stream was aborted with data unsent");
}

void stream_state::wake_writers() noexcept {
    for (sync_waiter* w = m_writers.front(); w;) {
        sync_waiter* next = w->m_next;
        if (write_ready(static_cast<stream_write_waiter*>(w)->m_what)) {
            m_writers.remove(*w);
            w->m_granted = true;
            w->m_task->wake();
        }
        w = next;
    }
}

void stream_state::write_eof() {
    if (m_error)
        std::rethrow_exception(m_error);
    if (m_closing || m_eof_pending)
        return;
    if (!can_write_eof())
        throw std::logic_error("corio::stream_writer: this transport cannot half-close");
    m_eof_pending = true;
    if (m_wbuf.empty()) {
        m_eof_sent = true;
        try {
            get_transport().write_eof();
        } catch (...) {
            fail(std::current_exception());
            throw;
        }
    }
}

void stream_state::set_write_limits(std::size_t high, std::size_t low) {
    if (low > high || high > max_limit)
        throw std::invalid_argument(
            "corio::stream_writer::set_write_buffer_limits: need low <= high <= 1 GiB");
    m_high = static_cast<std::uint32_t>(high);
    m_low = static_cast<std::uint32_t>(low);
    const std::size_t held = m_wbuf.size() + unsent();
    if (held > m_high) {
        if (!m_paused && m_wbuf.empty())
            arm_write_or_fail(); // to hear when the backlog is sent
        m_paused = true;
    } else if (m_paused && held <= m_low) {
        m_paused = false;
        wake_writers();
    }
}

// ------------------------------------------------------------------------------ closing ---

void stream_state::close() noexcept {
    if (m_closing)
        return;
    m_closing = true;
    m_eof = true; // reading stops: a parked read sees the end of the stream
    finish_parked_read();
    if (m_wbuf.empty()) {
        // flush() closes once the transport's backlog is sent too (or fails the stream).
        flush();
    }
    // Otherwise flush() closes once the buffer is empty.
}

void stream_state::finish_close() noexcept {
    m_closed = true;
    m_paused = false;
    get_transport().close();
    wake_writers();
    closed_for_server();
}

void stream_state::abort() noexcept {
    if (m_closed)
        return;
    m_closing = true;
    m_eof = true;
    m_aborted = !m_wbuf.empty() || unsent() != 0; // the transport drops a queued send
    m_wbuf.clear();
    m_paused = false;
    finish_parked_read();
    m_closed = true;
    get_transport().abort();
    wake_writers();
    closed_for_server();
}

void stream_state::fail(std::exception_ptr e) noexcept {
    if (m_error || m_closed)
        return;
    m_error = std::move(e);
    m_closing = true;
    m_eof = true;
    m_wbuf.clear();
    m_paused = false;
    finish_parked_read(); // it gets the error
    m_closed = true;
    get_transport().close();
    wake_writers();
    closed_for_server();
}

} // namespace corio::detail

#include "corio/io/stream_reader.hpp"

#include "io/stream_state.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace corio {

namespace detail {

const wait_kind stream_read_op::s_wait_kind{&stream_read_op::on_cancel, "stream read"};

stream_read_op::stream_read_op(stream_state* s, read_kind k) noexcept : m_state(s), m_read_kind(k) {
    m_kind = &s_wait_kind;
}

stream_read_op::~stream_read_op() {
    leave();
    if (m_holds_ref)
        m_state->release();
}

void stream_read_op::leave() noexcept {
    if (m_parked) {
        m_parked = false;
        m_state->withdraw(*this);
    }
}

bool stream_read_op::await_suspend(std::coroutine_handle<> h) {
    m_task = &this_task("a stream read");
    if (!m_state)
        throw std::logic_error("corio::stream_reader: no stream (default-constructed reader)");
    if (m_state->begin_read(*this)) {
        m_done = true;
        return false;
    }
    if (m_task->m_must_cancel) {
        // A cancellation was pending: it is delivered here, and the read takes nothing.
        m_state->give_back(*this);
        return false;
    }
    try {
        m_state->park(*this);
    } catch (...) {
        m_state->give_back(*this);
        throw;
    }
    m_parked = true;
    if (!m_holds_ref) {
        m_state->add_ref();
        m_holds_ref = true;
    }
    m_task->suspend(*this, h);
    return true;
}

void stream_read_op::finish() {
    if (m_done) {
        if (m_error)
            std::rethrow_exception(m_error);
        return;
    }
    m_task->throw_if_cancelled();
    throw std::logic_error("corio: a stream read resumed before it completed");
}

void stream_read_op::on_cancel(wait_node* w, task_header& t) noexcept {
    auto* self = static_cast<stream_read_op*>(w);
    self->m_state->withdraw(*self);
    self->m_parked = false;
    t.m_must_cancel = true;
    t.wake();
}

namespace {
void sort_separators(std::vector<std::string_view>& list) {
    if (list.empty())
        throw std::invalid_argument("corio::stream_reader::readuntil: no separator");
    for (std::string_view s : list)
        if (s.empty())
            throw std::invalid_argument("corio::stream_reader::readuntil: empty separator");
    // Shortest first, as asyncio: the bounds of the search come from the first and the last.
    std::stable_sort(list.begin(), list.end(),
                     [](std::string_view a, std::string_view b) { return a.size() < b.size(); });
}
} // namespace

multi_until_awaiter::multi_until_awaiter(stream_state* s,
                                         std::span<const std::string_view> separators)
    : text_read_op(s, read_kind::until), m_list(separators.begin(), separators.end()) {
    sort_separators(m_list);
    m_seps = m_list.data();
    m_sep_count = m_list.size();
}

} // namespace detail

stream_reader::stream_reader(detail::stream_state* s) noexcept : m_state(s) {
    if (m_state)
        m_state->add_ref();
}

stream_reader::stream_reader(const stream_reader& o) noexcept : stream_reader(o.m_state) {}

stream_reader::stream_reader(stream_reader&& o) noexcept
    : m_state(std::exchange(o.m_state, nullptr)) {}

stream_reader& stream_reader::operator=(stream_reader o) noexcept {
    std::swap(m_state, o.m_state);
    return *this;
}

stream_reader::~stream_reader() {
    if (m_state)
        m_state->release();
}

detail::string_read_awaiter stream_reader::read(std::ptrdiff_t n) noexcept {
    if (n < 0)
        return detail::string_read_awaiter(m_state, detail::read_kind::all);
    return detail::string_read_awaiter(m_state, detail::read_kind::up_to,
                                       static_cast<std::size_t>(n));
}

detail::string_read_awaiter stream_reader::readexactly(std::size_t n) noexcept {
    return detail::string_read_awaiter(m_state, detail::read_kind::exactly, n);
}

detail::string_read_awaiter stream_reader::readline() noexcept {
    return detail::string_read_awaiter(m_state, detail::read_kind::line);
}

detail::string_read_awaiter stream_reader::readuntil(std::string_view separator) noexcept {
    return detail::string_read_awaiter(m_state, separator);
}

detail::multi_until_awaiter stream_reader::readuntil(std::span<const std::string_view> separators) {
    return detail::multi_until_awaiter(m_state, separators);
}

detail::next_line_awaiter stream_reader::next_line() noexcept {
    return detail::next_line_awaiter(m_state);
}

detail::read_some_awaiter stream_reader::read_some(std::span<std::byte> buf) noexcept {
    return detail::read_some_awaiter(m_state, buf);
}

detail::wait_readable_awaiter stream_reader::wait_readable() noexcept {
    return detail::wait_readable_awaiter(m_state);
}

std::optional<std::size_t> stream_reader::try_read(std::span<std::byte> buf) {
    if (!m_state)
        throw std::logic_error("corio::stream_reader: no stream (default-constructed reader)");
    return m_state->try_read(buf);
}

bool stream_reader::at_eof() const noexcept {
    return !m_state || m_state->at_eof();
}

std::exception_ptr stream_reader::exception() const noexcept {
    return m_state ? m_state->exception() : nullptr;
}

std::size_t stream_reader::buffered() const noexcept {
    return m_state ? m_state->buffered() : 0;
}

std::size_t stream_reader::limit() const noexcept {
    return m_state ? m_state->limit() : 0;
}

} // namespace corio

#include "corio/io/stream_writer.hpp"

#include "corio/core/detail/task_header.hpp"

#include "io/stream_state.hpp"

#include <stdexcept>
#include <utility>

namespace corio {

namespace detail {

const wait_kind stream_write_waiter::s_wait_kind{&stream_write_waiter::on_cancel, "stream writer"};

stream_write_waiter::stream_write_waiter(stream_state* s, write_wait w) noexcept
    : m_state(s), m_what(w) {
    m_kind = &s_wait_kind;
}

stream_write_waiter::~stream_write_waiter() {
    if (m_linked)
        m_state->dequeue(*this); // the frame goes while waiting (a loop torn down)
    if (m_holds_ref)
        m_state->release();
}

bool stream_write_waiter::await_ready() {
    if (!m_state)
        throw std::logic_error("corio::stream_writer: no stream (default-constructed writer)");
    return m_state->write_ready(m_what);
}

bool stream_write_waiter::await_suspend(std::coroutine_handle<> h) {
    m_task = &this_task(m_what == write_wait::drain    ? "stream drain"
                        : m_what == write_wait::closed ? "stream wait_closed"
                                                       : "stream flush");
    if (m_task->m_must_cancel)
        return false;
    m_state->enqueue(*this);
    if (!m_holds_ref) {
        m_state->add_ref();
        m_holds_ref = true;
    }
    m_task->suspend(*this, h);
    return true;
}

void stream_write_waiter::await_resume() {
    // A wait that ended before a cancellation arrived returns normally; the cancellation is
    // delivered at the next suspension point.
    if (m_task && !m_granted)
        m_task->throw_if_cancelled();
    m_state->check_after_wait(m_what);
}

void stream_write_waiter::on_cancel(wait_node* w, task_header& t) noexcept {
    auto* self = static_cast<stream_write_waiter*>(static_cast<sync_waiter*>(w));
    self->m_state->dequeue(*self);
    t.m_must_cancel = true;
    t.wake();
}

} // namespace detail

namespace {
detail::stream_state& need(detail::stream_state* s) {
    if (!s)
        throw std::logic_error("corio::stream_writer: no stream (default-constructed writer)");
    return *s;
}
std::span<const std::byte> bytes(std::string_view s) noexcept {
    return std::as_bytes(std::span(s.data(), s.size()));
}
} // namespace

stream_writer::stream_writer(detail::stream_state* s) noexcept : m_state(s) {
    if (m_state)
        m_state->add_ref();
}

stream_writer::stream_writer(const stream_writer& o) noexcept : stream_writer(o.m_state) {}

stream_writer::stream_writer(stream_writer&& o) noexcept
    : m_state(std::exchange(o.m_state, nullptr)) {}

stream_writer& stream_writer::operator=(stream_writer o) noexcept {
    std::swap(m_state, o.m_state);
    return *this;
}

stream_writer::~stream_writer() {
    if (m_state)
        m_state->release();
}

detail::stream_write_waiter stream_writer::write(std::span<const std::byte> data) {
    need(m_state).write(data);
    return detail::stream_write_waiter(m_state, detail::write_wait::drain);
}

detail::stream_write_waiter stream_writer::write(std::string_view data) {
    need(m_state).write(bytes(data));
    return detail::stream_write_waiter(m_state, detail::write_wait::drain);
}

void stream_writer::write_nowait(std::span<const std::byte> data) {
    need(m_state).write(data);
}

void stream_writer::write_nowait(std::string_view data) {
    need(m_state).write(bytes(data));
}

detail::stream_write_waiter stream_writer::drain() noexcept {
    return detail::stream_write_waiter(m_state, detail::write_wait::drain);
}

void stream_writer::write_eof() {
    need(m_state).write_eof();
}

bool stream_writer::can_write_eof() const noexcept {
    return m_state && m_state->can_write_eof();
}

void stream_writer::close() noexcept {
    if (m_state)
        m_state->close();
}

void stream_writer::abort() noexcept {
    if (m_state)
        m_state->abort();
}

bool stream_writer::is_closing() const noexcept {
    return !m_state || m_state->is_closing();
}

detail::stream_write_waiter stream_writer::wait_closed() noexcept {
    return detail::stream_write_waiter(m_state, detail::write_wait::closed);
}

void stream_writer::set_write_buffer_limits(std::size_t high, std::size_t low) {
    need(m_state).set_write_limits(high, low);
}

std::size_t stream_writer::write_buffer_size() const noexcept {
    return m_state ? m_state->write_buffer_size() : 0;
}

net::endpoint stream_writer::peer_endpoint() const {
    if (net::socket* s = socket())
        return s->peer_endpoint();
    return peer_address().to_endpoint();
}

net::endpoint stream_writer::local_endpoint() const {
    return local_address().to_endpoint();
}

net::socket_address stream_writer::peer_address() const {
    return need(m_state).get_transport().peer_address();
}

net::socket_address stream_writer::local_address() const {
    return need(m_state).get_transport().local_address();
}

net::socket* stream_writer::socket() const noexcept {
    return m_state ? m_state->get_transport().socket() : nullptr;
}

corio::transport& stream_writer::transport() const noexcept {
    return m_state->get_transport();
}

} // namespace corio

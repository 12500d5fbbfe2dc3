#include "corio/net/detail/io_awaiter.hpp"

#include "corio/net/socket.hpp"
#include "corio/net/socket_address.hpp"
#include "corio/runtime/event_loop.hpp"

#include "backend/backend.hpp"
#include <unistd.h>

#include <cerrno>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace corio::net::detail {

using corio::detail::backend;
using corio::detail::io_kind;
using corio::detail::io_operation;

static_assert(sizeof(io_operation) <= io_operation_size,
              "io_operation_size in io_awaiter.hpp must grow with the backend's io_operation");
static_assert(alignof(io_operation) <= 8);
static_assert(static_cast<int>(io_op::poll_readable) == static_cast<int>(io_kind::poll_readable));
static_assert(static_cast<int>(io_op::poll_writable) == static_cast<int>(io_kind::poll_writable));
static_assert(static_cast<int>(io_op::recv) == static_cast<int>(io_kind::recv));
static_assert(static_cast<int>(io_op::send) == static_cast<int>(io_kind::send));
static_assert(static_cast<int>(io_op::read) == static_cast<int>(io_kind::read));
static_assert(static_cast<int>(io_op::write) == static_cast<int>(io_kind::write));
static_assert(static_cast<int>(io_op::accept) == static_cast<int>(io_kind::accept));
static_assert(static_cast<int>(io_op::connect) == static_cast<int>(io_kind::connect));
static_assert(static_cast<int>(io_op::recvmsg) == static_cast<int>(io_kind::recvmsg));
static_assert(static_cast<int>(io_op::sendmsg) == static_cast<int>(io_kind::sendmsg));

namespace {

// Users of raw fds (sock_* calls) per backend and fd, on this thread (one loop per thread, and
// an fd number is per process): the fd is forgotten by the backend when the count drops to
// zero, so the caller may close it between calls, as with asyncio's sock_* calls.
thread_local std::map<std::pair<const backend*, int>, unsigned> t_raw_fd_uses;

event_loop& loop_of(corio::detail::task_header& t, const char* what) {
    auto* loop = dynamic_cast<event_loop*>(t.m_sched);
    if (!loop)
        throw std::logic_error(std::string("corio::net: ") + what +
                               " needs a task run by a corio::event_loop");
    return *loop;
}

std::string address_text(const socket_address& a) {
    if (a.is_unix() && a.to_unix_endpoint().is_unnamed())
        return {};
    if (a.size() == 0)
        return {};
    return a.to_string();
}

std::string name_of(int fd, bool peer) {
    socket_address a;
    socklen_t len = socket_address::capacity();
    const int r = peer ? ::getpeername(fd, a.data(), &len) : ::getsockname(fd, a.data(), &len);
    if (r != 0)
        return {};
    a.resize(len);
    return address_text(a);
}

std::string with(std::string call, const char* prep, const std::string& where) {
    if (!where.empty()) {
        call += ' ';
        call += prep;
        call += ' ';
        call += where;
    }
    return call;
}

} // namespace

const corio::detail::wait_kind io_awaiter::s_wait_kinds[] = {
    {&io_awaiter::on_cancel, "poll_readable"}, {&io_awaiter::on_cancel, "poll_writable"},
    {&io_awaiter::on_cancel, "recv"},          {&io_awaiter::on_cancel, "send"},
    {&io_awaiter::on_cancel, "read"},          {&io_awaiter::on_cancel, "write"},
    {&io_awaiter::on_cancel, "accept"},        {&io_awaiter::on_cancel, "connect"},
    {&io_awaiter::on_cancel, "recvmsg"},       {&io_awaiter::on_cancel, "sendmsg"},
};

static io_operation& op_in(void* storage) noexcept {
    return *std::launder(static_cast<io_operation*>(storage));
}

io_awaiter::io_awaiter(const io_request& r, net::socket* owner) noexcept : m_owner(owner) {
    m_kind = &s_wait_kinds[static_cast<int>(r.kind)];
    m_slot.self = this;
    auto* op = ::new (static_cast<void*>(m_slot.op)) io_operation{};
    op->m_kind = static_cast<io_kind>(r.kind);
    op->m_fd = r.fd;
    op->m_flags = r.flags;
    op->m_buf = r.buf;
    op->m_len = r.len;
    op->m_addr = r.addr;
    op->m_addrlen = r.addrlen;
    op->m_msg = r.msg;
    op->m_complete = [](io_operation* o) noexcept { on_complete(o); };
}

io_awaiter::~io_awaiter() {
    io_operation& op = op_in(m_slot.op);
    if (m_state == state::pending) {
        // The frame goes while the task is parked here (a loop closing abandons its tasks):
        // the backend must let go of the operation and its buffer first.
        m_backend->cancel(op);
        unlink();
    }
    release_raw_fd();
    if (op.m_kind == io_kind::accept && m_state == state::done && op.m_result >= 0 &&
        !m_accepted_taken)
        ::close(static_cast<int>(op.m_result)); // accepted, but nobody resumed to take it
    // io_operation is trivially destructible.
}

void io_awaiter::set_address(sockaddr* addr, socklen_t* len) noexcept {
    io_operation& op = op_in(m_slot.op);
    op.m_addr = addr;
    op.m_addrlen = len;
}

void io_awaiter::set_msg(msghdr* msg) noexcept {
    op_in(m_slot.op).m_msg = msg;
}

bool io_awaiter::await_suspend(std::coroutine_handle<> h) {
    corio::detail::task_header& t = corio::detail::this_task(m_kind->what);
    m_task = &t;
    if (t.m_must_cancel) {
        m_state = state::refused;
        return false;
    }
    event_loop* loop;
    if (m_owner && m_owner->m_loop && static_cast<scheduler*>(m_owner->m_loop) == t.m_sched)
        [[likely]] {
        loop = m_owner->m_loop;
    } else {
        loop = &loop_of(t, m_kind->what);
        if (m_owner)
            m_owner->attach(*loop);
    }
    m_backend = &loop->io_backend();
    io_operation& op = op_in(m_slot.op);
    if (op.m_fd < 0) {
        const std::string what = std::string(m_kind->what) + ": the socket is closed";
        throw std::system_error(EBADF, std::generic_category(), what);
    }
    if (m_backend->submit(op)) {
        m_state = state::done;
        if (!m_owner) {
            // A raw fd nobody else waits on is forgotten at once (the call may have left state
            // about it in the backend), so that the caller may close it.
            auto it = t_raw_fd_uses.find({m_backend, op.m_fd});
            if (it == t_raw_fd_uses.end())
                m_backend->forget_fd(op.m_fd);
        }
        return false;
    }
    m_state = state::pending;
    link();
    t.suspend(*this, h);
    return true;
}

void io_awaiter::on_complete(void* op) noexcept {
    io_awaiter* self = static_cast<slot*>(op)->self;
    self->m_state = state::done;
    self->unlink();
    self->m_task->wake();
}

void io_awaiter::on_cancel(corio::detail::wait_node* w, corio::detail::task_header& t) {
    auto* self = static_cast<io_awaiter*>(w);
    if (self->m_state == state::pending && self->m_backend->cancel(op_in(self->m_slot.op))) {
        self->m_state = state::withdrawn;
        self->unlink();
        t.m_must_cancel = true;
        t.wake();
        return;
    }
    // The operation is already under way in the kernel (a completion backend): it wakes the
    // task when it ends, and the request is delivered then.
    t.m_must_cancel = true;
}

void io_awaiter::abort() noexcept {
    if (m_state != state::pending)
        return;
    if (m_backend->cancel(op_in(m_slot.op))) {
        m_state = state::aborted;
        unlink();
        // The task may be going away itself (its frame destroyed after the socket): only a
        // task parked here is woken.
        if (m_task->m_state == corio::detail::task_state::suspended && m_task->m_wait == this)
            m_task->wake();
    } else {
        unlink();
    }
    m_owner = nullptr; // the socket is going away; the error message cannot use it
}

void io_awaiter::link() noexcept {
    if (!m_owner) {
        ++t_raw_fd_uses[{m_backend, op_in(m_slot.op).m_fd}];
        m_holds_raw_fd = true;
        return;
    }
    m_prev = nullptr;
    m_next = m_owner->m_pending;
    if (m_next)
        m_next->m_prev = this;
    m_owner->m_pending = this;
}

void io_awaiter::unlink() noexcept {
    if (!m_owner)
        return;
    if (m_prev)
        m_prev->m_next = m_next;
    else if (m_owner->m_pending == this)
        m_owner->m_pending = m_next;
    if (m_next)
        m_next->m_prev = m_prev;
    m_prev = m_next = nullptr;
}

void io_awaiter::release_raw_fd() noexcept {
    if (!m_holds_raw_fd)
        return;
    m_holds_raw_fd = false;
    const int fd = op_in(m_slot.op).m_fd;
    auto it = t_raw_fd_uses.find({m_backend, fd});
    if (it == t_raw_fd_uses.end())
        return;
    if (--it->second == 0) {
        t_raw_fd_uses.erase(it);
        m_backend->forget_fd(fd);
    }
}

std::int64_t io_awaiter::result() {
    switch (m_state) {
    case state::done: {
        release_raw_fd();
        const std::int64_t r = op_in(m_slot.op).m_result;
        if (r == -ECANCELED && m_task->m_must_cancel)
            m_task->deliver_cancel(); // a completion backend reporting the withdrawal
        return r;
    }
    case state::refused:
    case state::withdrawn:
        release_raw_fd();
        m_task->deliver_cancel();
    case state::aborted:
        release_raw_fd();
        m_task->throw_if_cancelled();
        return -ECANCELED;
    case state::idle:
    case state::pending:
        break;
    }
    throw std::logic_error("corio::net: an I/O call resumed before it completed");
}

void io_awaiter::throw_error(int err) const {
    const io_operation& op = op_in(const_cast<std::byte*>(m_slot.op));
    const int fd = op.m_fd;
    // After close() aborted the call the fd number may already belong to another socket: no
    // name is looked up then.
    const bool aborted = m_state == state::aborted;
    auto peer = [&]() -> std::string {
        if (m_owner && m_owner->m_peer_known)
            return m_owner->m_peer.to_string();
        return aborted ? std::string() : name_of(fd, true);
    };
    auto local = [&]() -> std::string { return aborted ? std::string() : name_of(fd, false); };
    std::string what;
    switch (op.m_kind) {
    case io_kind::connect:
        what = with("connect", "to",
                    op.m_addr ? address_text(socket_address(op.m_addr, *op.m_addrlen)) : "");
        break;
    case io_kind::accept:
        what = with("accept", "on", local());
        break;
    case io_kind::recv:
        what = with("recv", "from", peer());
        break;
    case io_kind::read:
        what = "read";
        break;
    case io_kind::send:
        what = with("send", "to", peer());
        break;
    case io_kind::write:
        what = "write";
        break;
    case io_kind::recvmsg:
        if (op.m_msg && op.m_msg->msg_name)
            what = with("recvfrom", "on", local());
        else
            what = with("recvmsg", "from", peer());
        break;
    case io_kind::sendmsg:
        if (op.m_msg && op.m_msg->msg_name && op.m_msg->msg_namelen > 0)
            what = "sendto " +
                   address_text(socket_address(static_cast<const sockaddr*>(op.m_msg->msg_name),
                                               op.m_msg->msg_namelen));
        else
            what = with("sendmsg", "to", peer());
        break;
    case io_kind::poll_readable:
        what = "waiting for fd " + std::to_string(fd) + " to be readable";
        break;
    case io_kind::poll_writable:
        what = "waiting for fd " + std::to_string(fd) + " to be writable";
        break;
    }
    if (aborted)
        what += ": the socket was closed while the call was pending";
    throw std::system_error(err, std::generic_category(), what);
}

} // namespace corio::net::detail

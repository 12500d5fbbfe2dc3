#include "corio/net/unix_listener.hpp"

#include "sys/posix/errors.hpp"
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace corio::net {

unix_listener::unix_listener(unix_listener&& o) noexcept
    : m_sock(std::move(o.m_sock)), m_cleanup(std::exchange(o.m_cleanup, unix_endpoint())),
      m_dev(o.m_dev), m_ino(o.m_ino) {}

unix_listener& unix_listener::operator=(unix_listener&& o) noexcept {
    if (this != &o) {
        close();
        m_sock = std::move(o.m_sock);
        m_cleanup = std::exchange(o.m_cleanup, unix_endpoint());
        m_dev = o.m_dev;
        m_ino = o.m_ino;
    }
    return *this;
}

unix_listener unix_listener::bind(unix_endpoint local, unix_listen_options options) {
    if (local.is_unnamed())
        throw std::invalid_argument("corio::net::unix_listener::bind: an unnamed endpoint");
    const std::string path(local.name());
    if (local.is_path() && options.unlink_existing) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
            ::unlink(path.c_str()); // a failure shows up as bind's EADDRINUSE
    }
    unix_listener l;
    l.m_sock = net::socket::open(AF_UNIX, SOCK_STREAM, 0);
    l.m_sock.bind(local);
    if (local.is_path() && options.unlink_on_close) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0) {
            l.m_cleanup = local;
            l.m_dev = st.st_dev;
            l.m_ino = st.st_ino;
        }
    }
    l.m_sock.listen(options.backlog);
    return l;
}

unix_endpoint unix_listener::local_endpoint() const {
    return m_sock.local_address().to_unix_endpoint();
}

void unix_listener::close() noexcept {
    m_sock.close();
    if (m_cleanup.is_path()) {
        const std::string path(m_cleanup.name());
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && st.st_dev == m_dev && st.st_ino == m_ino)
            ::unlink(path.c_str());
        m_cleanup = unix_endpoint();
    }
}

int unix_listener::release() noexcept {
    m_cleanup = unix_endpoint();
    return m_sock.release();
}

namespace detail {

net::unix_stream unix_accept_awaiter::await_resume() {
    return net::unix_stream(take_socket());
}

} // namespace detail

} // namespace corio::net

#include "net/detail/resolver_thread.hpp"

#include "corio/core/cancelled_error.hpp"
#include "corio/core/detail/task_header.hpp"
#include "corio/runtime/event_loop.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>

#if __has_include("corio/runtime/to_thread.hpp")
#include "corio/runtime/to_thread.hpp"
#define CORIO_NET_HAVE_TO_THREAD 1
#endif

namespace corio::net::detail {

gai_outcome blocking_getaddrinfo(const std::string& host, const std::string& service,
                                 resolve_options options) noexcept {
    gai_outcome out;
    addrinfo hints{};
    hints.ai_family = options.family;
    hints.ai_socktype = options.type;
    hints.ai_protocol = options.protocol;
    hints.ai_flags = options.flags;
    addrinfo* list = nullptr;
    errno = 0;
    const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                                 service.empty() ? nullptr : service.c_str(), &hints, &list);
    if (rc != 0) {
        out.code = rc;
        out.sys_errno = rc == EAI_SYSTEM ? errno : 0;
        return out;
    }
    try {
        for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
            if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
                continue;
            const endpoint e = endpoint::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
            if (std::find(out.endpoints.begin(), out.endpoints.end(), e) == out.endpoints.end())
                out.endpoints.push_back(e);
        }
    } catch (...) {
        out.endpoints.clear();
        out.code = EAI_MEMORY;
    }
    ::freeaddrinfo(list);
    return out;
}

#ifdef CORIO_NET_HAVE_TO_THREAD

task<gai_outcome> getaddrinfo_off_loop(std::string host, std::string service,
                                       resolve_options options) {
    // to_thread's cancellation is the one resolve() documents: the task stops waiting at once
    // and the lookup's result is dropped when it ends.
    auto lookup =
        corio::to_thread(&blocking_getaddrinfo, std::move(host), std::move(service), options);
    co_return co_await lookup;
}

#else

namespace {

// A lookup shared between the awaiting task and its thread. The thread writes `result`, then
// posts to the loop; the loop reads it after the post has run (the loop's inbox orders the
// two). `waiter` is touched on the loop thread only.
struct lookup_state {
    std::string host;
    std::string service;
    resolve_options options;
    gai_outcome result;
    corio::detail::task_header* waiter = nullptr;
};

class lookup_awaiter : corio::detail::wait_node {
  public:
    explicit lookup_awaiter(std::shared_ptr<lookup_state> s) noexcept : m_state(std::move(s)) {
        m_kind = &s_wait_kind;
    }
    lookup_awaiter(const lookup_awaiter&) = delete;
    lookup_awaiter& operator=(const lookup_awaiter&) = delete;
    ~lookup_awaiter() {
        if (m_state && m_state->waiter == m_task)
            m_state->waiter = nullptr; // the frame goes while waiting: the result is dropped
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_task = &corio::detail::this_task("getaddrinfo");
        if (m_task->m_must_cancel)
            return false;
        auto* loop = dynamic_cast<event_loop*>(m_task->m_sched);
        if (!loop)
            throw std::logic_error("corio::net::resolve needs a task run by a corio::event_loop");
        loop_handle home = loop->handle();
        m_state->waiter = m_task;
        try {
            std::thread([st = m_state, home]() mutable {
                st->result = blocking_getaddrinfo(st->host, st->service, st->options);
                try {
                    home.call_soon_threadsafe([st] {
                        if (corio::detail::task_header* t = std::exchange(st->waiter, nullptr))
                            t->wake();
                    });
                } catch (...) {
                    // The loop has closed: nobody waits any more.
                }
            }).detach();
        } catch (...) {
            m_state->waiter = nullptr;
            throw;
        }
        m_task->suspend(*this, h);
        return true;
    }
    gai_outcome await_resume() {
        m_task->throw_if_cancelled();
        if (m_abandoned)
            throw cancelled_error();
        return std::move(m_state->result);
    }

  private:
    static void on_cancel(corio::detail::wait_node* w, corio::detail::task_header& t) noexcept {
        auto* self = static_cast<lookup_awaiter*>(w);
        self->m_state->waiter = nullptr;
        self->m_abandoned = true;
        t.m_must_cancel = true;
        t.wake();
    }

    std::shared_ptr<lookup_state> m_state;
    corio::detail::task_header* m_task = nullptr;
    bool m_abandoned = false;
    static constexpr corio::detail::wait_kind s_wait_kind{&on_cancel, "getaddrinfo"};
};

} // namespace

task<gai_outcome> getaddrinfo_off_loop(std::string host, std::string service,
                                       resolve_options options) {
    auto st = std::make_shared<lookup_state>();
    st->host = std::move(host);
    st->service = std::move(service);
    st->options = options;
    lookup_awaiter lookup(std::move(st));
    co_return co_await lookup;
}

#endif

} // namespace corio::net::detail

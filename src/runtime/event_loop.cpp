#include "corio/runtime/event_loop.hpp"

#include "backend/backend.hpp"
#include "runtime/fd_watchers.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace corio {

namespace {

bool debug_from_environment() {
    const char* v = std::getenv("CORIO_DEBUG");
    return v && *v && std::strcmp(v, "0") != 0;
}

} // namespace

event_loop::event_loop(loop_options options)
    : scheduler(options.clock), m_backend(detail::make_backend(options.backend)),
      m_remote(std::make_shared<detail::remote_queue>(m_backend->get_waker())),
      m_default_executor_threads(options.default_executor_threads),
      m_sigterm_cancels_main(options.cancel_main_on_sigterm) {
    set_debug(options.debug ? *options.debug : debug_from_environment());
    set_slow_callback_duration(
        std::chrono::duration_cast<duration>(options.slow_callback_duration));
}

event_loop::~event_loop() {
    if (!m_closed && !is_running())
        close();
}

const char* event_loop::backend_name() const noexcept {
    return m_backend->name();
}

void event_loop::add_reader(int fd, std::function<void()> callback) {
    check_open();
    if (!m_fd_watchers)
        m_fd_watchers = std::make_unique<detail::fd_watchers>(*this);
    m_fd_watchers->add(fd, false, std::move(callback));
}

bool event_loop::remove_reader(int fd) noexcept {
    return m_fd_watchers && m_fd_watchers->remove(fd, false);
}

void event_loop::add_writer(int fd, std::function<void()> callback) {
    check_open();
    if (!m_fd_watchers)
        m_fd_watchers = std::make_unique<detail::fd_watchers>(*this);
    m_fd_watchers->add(fd, true, std::move(callback));
}

bool event_loop::remove_writer(int fd) noexcept {
    return m_fd_watchers && m_fd_watchers->remove(fd, true);
}

void event_loop::check_open() const {
    if (m_closed)
        throw std::logic_error("corio: the event loop is closed");
}

void event_loop::close() {
    if (is_running())
        throw std::logic_error("corio: cannot close a running event loop");
    if (m_closed)
        return;
    m_closed = true;
    m_remote->close();
    drop_callbacks();
    // Frames destroyed here withdraw their to_thread jobs (queued ones will never run, running
    // ones get a stop request) before the executor waits for its workers.
    abandon_tasks();
    // Layers above (signal handlers, child reapers) let go of the loop's fds and hand on what
    // must outlive it; the tasks that used them are gone.
    while (!m_extensions.empty()) {
        std::unique_ptr<detail::loop_extension> ext = std::move(m_extensions.back().second);
        m_extensions.pop_back();
        ext->on_close();
    }
    if (m_default_executor)
        m_default_executor->shutdown(true);
}

detail::loop_extension* event_loop::find_extension(const void* key) const noexcept {
    for (const auto& [k, ext] : m_extensions)
        if (k == key)
            return ext.get();
    return nullptr;
}

detail::loop_extension& event_loop::add_extension(const void* key,
                                                  std::unique_ptr<detail::loop_extension> ext) {
    check_open();
    m_extensions.emplace_back(key, std::move(ext));
    return *m_extensions.back().second;
}

thread_pool& event_loop::default_executor() {
    check_open();
    if (!m_default_executor)
        m_default_executor = std::make_unique<thread_pool>(m_default_executor_threads);
    return *m_default_executor;
}

void event_loop::run_remote_calls() noexcept {
    // The flag keeps the inbox's mutex off the loop's every turn. A false read here cannot
    // strand a call: the post that filled the inbox wakes the loop after setting the flag, so the
    // turn that consumes that wake-up sees it.
    if (!m_remote->maybe_pending())
        return;
    detail::remote_call* c = m_remote->take_all();
    while (c) {
        detail::remote_call* next = c->m_next;
        try {
            c->run();
        } catch (...) {
            call_exception_handler(exception_context{
                "Exception in a call_soon_threadsafe callback", std::current_exception(), {}});
        }
        c->dispose();
        c = next;
    }
}

bool event_loop::poll_io(std::optional<duration> timeout) {
    if (m_remote->maybe_pending())
        timeout = duration::zero();
    // Polling with a zero timeout when no operation is pending can only report the waker, whose
    // posts are visible in the inbox anyway: skip the syscall so that busy loops of ready tasks
    // do not pay for one per iteration.
    bool unsettled = false;
    if (timeout != duration::zero() || m_backend->has_pending())
        unsettled = m_backend->wait(timeout ? std::optional<std::chrono::nanoseconds>(*timeout)
                                            : std::nullopt);
    run_remote_calls();
    if (m_on_interrupt)
        m_on_interrupt();
    return unsettled;
}

bool event_loop::io_pending() const noexcept {
    return m_backend->has_pending();
}

void event_loop::run_until_done(const task_ref& t) {
    check_open();
    struct stopper : detail::done_link {
        scheduler* s;
    } link;
    link.s = this;
    link.m_on_done = [](detail::done_link* l, detail::task_header&) {
        static_cast<stopper*>(l)->s->stop();
    };
    if (!t.done())
        t.get()->add_done_link(link);
    struct unlink {
        const task_ref& t;
        stopper& l;
        ~unlink() { t.get()->remove_done_link(l); }
    } guard{t, link};
    if (!t.done())
        run_forever();
    if (!t.done())
        throw std::runtime_error("corio: the event loop stopped before the task completed");
}

} // namespace corio

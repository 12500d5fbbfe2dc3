#include "corio/process/process.hpp"

#include "corio/core/gather.hpp"
#include "corio/io/pipes.hpp"
#include "corio/runtime/event_loop.hpp"

#include "io/pipe_transport.hpp"
#include "process/child_reaper.hpp"
#include "sys/posix/errors.hpp"
#include "sys/posix/unique_fd.hpp"
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

extern char** environ;

namespace corio {

namespace detail {

process_wait_awaiter::process_wait_awaiter(std::shared_ptr<child_state> c) noexcept
    : m_child(std::move(c)) {
    m_kind = &s_kind;
}

process_wait_awaiter::~process_wait_awaiter() {
    if (m_linked)
        m_child->waiters().remove(*this);
}

bool process_wait_awaiter::await_ready() const noexcept {
    return m_child->returncode().has_value();
}

bool process_wait_awaiter::await_suspend(std::coroutine_handle<> h) {
    m_task = &this_task("process::wait");
    if (m_task->m_must_cancel)
        return false;
    m_child->waiters().push_back(*this);
    m_task->suspend(*this, h);
    return true;
}

int process_wait_awaiter::await_resume() {
    // A status that arrived is not lost by a cancellation: it stays in the child for the next
    // wait() or returncode().
    if (m_task)
        m_task->throw_if_cancelled();
    return *m_child->returncode();
}

void process_wait_awaiter::on_cancel(wait_node* w, task_header& t) noexcept {
    auto* self = static_cast<process_wait_awaiter*>(w);
    self->m_child->waiters().remove(*self);
    t.m_must_cancel = true;
    t.wake();
}

} // namespace detail

namespace {

event_loop& running_loop(const char* what) {
    event_loop* loop = event_loop::current();
    if (!loop)
        throw std::logic_error(std::string("corio::") + what + ": no running event loop");
    return *loop;
}

/// A pipe whose ends are both close-on-exec; the child's end is moved above fd 2 so that the
/// dup2 of one standard stream never overwrites another's source.
struct pipe_pair {
    sys::unique_fd read_end;
    sys::unique_fd write_end;
};

sys::unique_fd above_stdio(sys::unique_fd fd) {
    if (fd.get() > 2)
        return fd;
    sys::unique_fd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!moved)
        sys::throw_last_errno("fcntl(F_DUPFD_CLOEXEC)");
    return moved;
}

pipe_pair make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        sys::throw_last_errno("pipe2");
    pipe_pair p{sys::unique_fd(fds[0]), sys::unique_fd(fds[1])};
    p.read_end = above_stdio(std::move(p.read_end));
    p.write_end = above_stdio(std::move(p.write_end));
    return p;
}

/// posix_spawn's attribute and file-action objects, destroyed on every path.
struct spawn_setup {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    spawn_setup() {
        if (int e = ::posix_spawnattr_init(&attr))
            sys::throw_errno(e, "posix_spawnattr_init");
        if (int e = ::posix_spawn_file_actions_init(&actions)) {
            ::posix_spawnattr_destroy(&attr);
            sys::throw_errno(e, "posix_spawn_file_actions_init");
        }
    }
    spawn_setup(const spawn_setup&) = delete;
    spawn_setup& operator=(const spawn_setup&) = delete;
    ~spawn_setup() {
        ::posix_spawn_file_actions_destroy(&actions);
        ::posix_spawnattr_destroy(&attr);
    }
};

void check(int err, const char* what) {
    if (err != 0)
        sys::throw_errno(err, what);
}

sys::unique_fd open_pidfd(int pid) {
    if (!detail::child_reaper::use_pidfd())
        return {};
    const long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        sys::unique_fd owned(static_cast<int>(fd));
        // pidfds are close-on-exec already (the kernel sets O_CLOEXEC); nothing to do.
        return owned;
    }
    if (errno == ENOSYS || errno == EPERM) // no pidfds (old kernel, or a seccomp filter)
        detail::child_reaper::pidfd_missing();
    else if (errno != ESRCH)
        sys::throw_last_errno("pidfd_open");
    return {};
}

process spawn(const std::string& program, const std::vector<std::string>& args,
              const subprocess_options& o, const char* what) {
    event_loop& loop = running_loop(what);
    if (program.empty())
        throw std::invalid_argument(std::string("corio::") + what + ": empty program");
    if (o.std_in == stdio::to_stdout || o.std_out == stdio::to_stdout)
        throw std::invalid_argument(std::string("corio::") + what +
                                    ": stdio::to_stdout is for std_err only");

    // The parent's ends of the pipes, and the child's (dup2'd to 0, 1, 2 in the child).
    sys::unique_fd parent_in, parent_out, parent_err;
    sys::unique_fd child_in, child_out, child_err;
    if (o.std_in == stdio::pipe) {
        pipe_pair p = make_pipe();
        child_in = std::move(p.read_end);
        parent_in = std::move(p.write_end);
    }
    if (o.std_out == stdio::pipe) {
        pipe_pair p = make_pipe();
        parent_out = std::move(p.read_end);
        child_out = std::move(p.write_end);
    }
    if (o.std_err == stdio::pipe) {
        pipe_pair p = make_pipe();
        parent_err = std::move(p.read_end);
        child_err = std::move(p.write_end);
    }

    spawn_setup s;
    // The child starts with an empty signal mask and with the default action of the signals
    // the parent ignores for its own sake (SIGPIPE: corio's pipes; as Python's restore_signals).
    sigset_t empty;
    sigemptyset(&empty);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGXFSZ);
    check(::posix_spawnattr_setsigmask(&s.attr, &empty), "posix_spawnattr_setsigmask");
    check(::posix_spawnattr_setsigdefault(&s.attr, &defaults), "posix_spawnattr_setsigdefault");
    check(::posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
          "posix_spawnattr_setflags");

    auto setup_stream = [&](stdio mode, int target, const sys::unique_fd& child_end) {
        switch (mode) {
        case stdio::inherit:
            break;
        case stdio::pipe:
            check(::posix_spawn_file_actions_adddup2(&s.actions, child_end.get(), target),
                  "posix_spawn_file_actions_adddup2");
            break;
        case stdio::devnull:
            check(::posix_spawn_file_actions_addopen(&s.actions, target, "/dev/null",
                                                     target == 0 ? O_RDONLY : O_WRONLY, 0),
                  "posix_spawn_file_actions_addopen");
            break;
        case stdio::to_stdout:
            check(::posix_spawn_file_actions_adddup2(&s.actions, 1, 2),
                  "posix_spawn_file_actions_adddup2");
            break;
        }
    };
    setup_stream(o.std_in, 0, child_in);
    setup_stream(o.std_out, 1, child_out);
    setup_stream(o.std_err, 2, child_err);
    // No other fd of the parent reaches the child (Python's close_fds), even one a library
    // opened without O_CLOEXEC.
    check(::posix_spawn_file_actions_addclosefrom_np(&s.actions, 3),
          "posix_spawn_file_actions_addclosefrom_np");
    if (o.cwd)
        check(::posix_spawn_file_actions_addchdir_np(&s.actions, o.cwd->c_str()),
              "posix_spawn_file_actions_addchdir_np");

    std::vector<char*> argv;
    argv.reserve(args.size() + 2);
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const std::string& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    if (o.env) {
        envp.reserve(o.env->size() + 1);
        for (const std::string& e : *o.env)
            envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
    }

    // The reaper exists before the child does: once spawned, nothing may fail before it owns
    // the child (adopt() records it first thing).
    detail::child_reaper& reaper = detail::child_reaper::of(loop);
    auto child = std::make_shared<detail::child_state>(-1, sys::unique_fd());
    reaper.reserve_one();

    // glibc's posix_spawn runs the child on a vfork-like clone and reports a failed exec (or a
    // failed file action) as its return value, having reaped that child itself.
    pid_t pid = -1;
    const int err = ::posix_spawnp(&pid, program.c_str(), &s.actions, &s.attr, argv.data(),
                                   o.env ? envp.data() : environ);
    if (err != 0) {
        const std::string msg = "corio: cannot run '" + program + "'";
        throw std::system_error(err, std::generic_category(), msg);
    }
    // The child holds its ends now.
    child_in.reset();
    child_out.reset();
    child_err.reset();

    // From here the child exists: the reaper must own it whatever happens (or it would become
    // a zombie), and the caller gets its process object. A pidfd that cannot be had (EMFILE)
    // only means the SIGCHLD watcher reaps this child.
    sys::unique_fd pidfd;
    try {
        pidfd = open_pidfd(pid);
    } catch (...) {
    }
    child->started(pid, std::move(pidfd));
    reaper.adopt(child);

    stream_writer in;
    stream_reader out, err_reader;
    if (parent_in)
        in = connect_write_pipe(parent_in.release(), o.streams);
    if (parent_out)
        out = connect_read_pipe(parent_out.release(), o.streams);
    if (parent_err)
        err_reader = connect_read_pipe(parent_err.release(), o.streams);
    return process(std::move(child), std::move(in), std::move(out), std::move(err_reader));
}

task<std::string> read_to_end(stream_reader r) {
    if (!r)
        co_return std::string();
    std::string all;
    for (;;) {
        std::string chunk = co_await r.read(1 << 16);
        if (chunk.empty())
            break;
        all += chunk;
    }
    co_return all;
}

task<void> feed(stream_writer w, std::string input) {
    if (!w)
        co_return;
    try {
        if (!input.empty()) {
            co_await w.write(input);
            co_await w.drain();
        }
    } catch (const std::system_error& e) {
        // The child exited (or closed its stdin) without reading everything: as asyncio.
        if (e.code() != std::errc::broken_pipe && e.code() != std::errc::connection_reset)
            throw;
    }
    w.close();
}

} // namespace

process::process() noexcept = default;

process::process(std::shared_ptr<detail::child_state> child, stream_writer in, stream_reader out,
                 stream_reader err) noexcept
    : m_child(std::move(child)), m_in(std::move(in)), m_out(std::move(out)), m_err(std::move(err)) {
}

process::process(process&&) noexcept = default;
process& process::operator=(process&&) noexcept = default;
process::~process() = default;

int process::pid() const noexcept {
    return m_child ? m_child->pid() : -1;
}

std::optional<int> process::returncode() const noexcept {
    return m_child ? m_child->returncode() : std::nullopt;
}

detail::process_wait_awaiter process::wait() const {
    if (!m_child)
        throw std::logic_error("corio::process::wait: no process");
    return detail::process_wait_awaiter(m_child);
}

task<communicate_result> process::communicate(std::string input) {
    if (!m_child)
        throw std::logic_error("corio::process::communicate: no process");
    if (!input.empty() && !m_in)
        throw std::invalid_argument("corio::process::communicate: input without a stdin pipe");
    // The three transfers run at once (gather), so that the child never blocks on a full pipe
    // while this side waits on another one. The handles are copies: the process keeps its own.
    auto all = gather(feed(m_in, std::move(input)), read_to_end(m_out), read_to_end(m_err));
    auto [fed, out, err] = co_await all;
    (void)fed;
    auto w = wait();
    const int rc = co_await w;
    co_return communicate_result{std::move(out), std::move(err), rc};
}

task<communicate_result> process::communicate() {
    return communicate(std::string());
}

void process::send_signal(int sig) {
    if (!m_child)
        throw std::logic_error("corio::process::send_signal: no process");
    m_child->send_signal(sig);
}

void process::terminate() {
    send_signal(SIGTERM);
}

void process::kill() {
    send_signal(SIGKILL);
}

process create_subprocess_exec(std::string program, std::vector<std::string> args,
                               subprocess_options options) {
    return spawn(program, args, options, "create_subprocess_exec");
}

process create_subprocess_shell(std::string cmd, subprocess_options options) {
    return spawn("/bin/sh", {"-c", std::move(cmd)}, options, "create_subprocess_shell");
}

} // namespace corio

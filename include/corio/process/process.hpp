#pragma once

#include "corio/core/task.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/process/subprocess_options.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <coroutine>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corio {

namespace detail {
class child_state;

/// The awaiter of process::wait(): a waiter in the awaiting frame, woken when the child is
/// reaped. It holds a reference to the child so that the process object may go meanwhile.
class process_wait_awaiter : sync_waiter {
  public:
    explicit process_wait_awaiter(std::shared_ptr<child_state> c) noexcept;
    process_wait_awaiter(const process_wait_awaiter&) = delete;
    process_wait_awaiter& operator=(const process_wait_awaiter&) = delete;
    ~process_wait_awaiter();

    bool await_ready() const noexcept;
    bool await_suspend(std::coroutine_handle<> h);
    int await_resume();

  private:
    friend class child_state;
    static void on_cancel(wait_node* w, task_header& t) noexcept;
    static constexpr wait_kind s_kind{&on_cancel, "process wait"};

    std::shared_ptr<child_state> m_child;
};
} // namespace detail

/// What communicate() returns: everything the child wrote to its stdout and stderr pipes
/// (empty for a stream that is not a pipe), and its exit status.
struct communicate_result {
    std::string std_out;
    std::string std_err;
    /// As process::wait(): the exit code, or minus the signal number that killed the child.
    int returncode = 0;
};

/// A child process started by create_subprocess_exec or create_subprocess_shell (asyncio's
/// Process).
///
/// Reaping: the child is reaped by its loop as soon as it exits, whether or not anyone awaits
/// wait(): through a pidfd (Linux 5.3 and later) watched by the loop, or, where pidfd_open is
/// missing, through a SIGCHLD handler that checks this loop's children with waitpid(pid,
/// WNOHANG) (never waitpid(-1): children spawned by other code are left to it). Destroying the
/// process object, or cancelling a wait(), leaves the child running; it is still reaped when it
/// exits, so no zombie is left. When the loop closes with children still running, they are
/// neither killed nor waited for: a background thread reaps each when it exits (wait for or
/// kill your children before the loop ends if their end matters).
///
/// Do not reap corio's children yourself (waitpid(-1), SIGCHLD set to SIG_IGN): the loop would
/// then never see their status (wait() would not return).
///
/// Move-only. Loop thread only.
class process {
  public:
    /// No process.
    process() noexcept;
    /// For corio's layers.
    process(std::shared_ptr<detail::child_state> child, stream_writer in, stream_reader out,
            stream_reader err) noexcept;
    process(process&&) noexcept;
    process& operator=(process&&) noexcept;
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    /// Drops the pipes (closing them: the child sees the end of its stdin) and lets the child
    /// run on; the loop still reaps it.
    ~process();

    [[nodiscard]] explicit operator bool() const noexcept { return m_child != nullptr; }

    /// The child's process id.
    [[nodiscard]] int pid() const noexcept;
    /// The exit status once the child has been reaped (asyncio's returncode): the exit code,
    /// or minus the number of the signal that killed it; nullopt while it runs.
    [[nodiscard]] std::optional<int> returncode() const noexcept;

    /// The writer of the child's stdin (std_in == stdio::pipe), else an empty writer. Close it
    /// (close() or write_eof()) for the child to read the end of its input.
    [[nodiscard]] stream_writer& std_in() noexcept { return m_in; }
    /// The reader of the child's stdout (std_out == stdio::pipe), else an empty reader.
    [[nodiscard]] stream_reader& std_out() noexcept { return m_out; }
    /// The reader of the child's stderr (std_err == stdio::pipe), else an empty reader.
    [[nodiscard]] stream_reader& std_err() noexcept { return m_err; }

    /// Waits for the child to exit and returns its status (see returncode()); at once if it
    /// has. As with asyncio, a child that fills a pipe nobody reads never exits: read its
    /// output, or use communicate().
    /// Cancellation: only the wait ends; the child runs on and is still reaped by the loop.
    /// Errors: std::logic_error for an empty process or outside a task.
    [[nodiscard]] detail::process_wait_awaiter wait() const;

    /// Sends `input` to stdin (then closes it), reads stdout and stderr to their end, all at
    /// once so that no pipe fills up, then waits for the child (asyncio's communicate). Pipes
    /// not opened are skipped; `input` must be empty unless stdin is a pipe.
    /// A child that stops reading its stdin (it exited) does not make communicate fail: the
    /// EPIPE is ignored, as in asyncio.
    /// Cancellation: the reads and the write are cancelled (output read so far is lost, as in
    /// asyncio), and the child runs on; the streams are left as they are.
    /// Errors: std::invalid_argument for input without a stdin pipe; std::logic_error for an
    /// empty process; a stream failure (std::system_error); limit: none, the outputs are read
    /// whole.
    /// g++ 12: pass a named string (`auto c = p.communicate(std::move(in)); co_await c;`), never
    /// a temporary built inside the co_await (see DESIGN.md's pitfall).
    [[nodiscard]] task<communicate_result> communicate(std::string input);
    /// communicate with no input (stdin, if it is a pipe, is closed at once).
    [[nodiscard]] task<communicate_result> communicate();

    /// Sends `sig` to the child (asyncio's send_signal), through its pidfd when there is one,
    /// so that a pid reused after the child was reaped is never hit. Does nothing once the
    /// child has been reaped (as Popen.send_signal).
    /// Errors: std::system_error if the kernel refuses (EINVAL for a bad signal number);
    /// std::logic_error for an empty process.
    void send_signal(int sig);
    /// send_signal(SIGTERM).
    void terminate();
    /// send_signal(SIGKILL).
    void kill();

  private:
    std::shared_ptr<detail::child_state> m_child;
    stream_writer m_in;
    stream_reader m_out;
    stream_reader m_err;
};

/// Starts `program` with arguments `args` (argv[1]...; argv[0] is `program`) in a child process
/// (asyncio's create_subprocess_exec). A program name without '/' is looked up in PATH.
///
/// The child gets, as fds 0, 1 and 2, what `options` says, and no other fd of the parent (all
/// others are closed in the child, as Python's close_fds); its signal mask is empty and SIGPIPE,
/// SIGXFSZ are back at SIG_DFL (as Python's restore_signals). Spawned with posix_spawn (vfork
/// semantics: no copy of the parent's memory), so a failed exec is reported here.
///
/// Unlike asyncio's, it is not a coroutine: starting a process does not wait for anything.
/// Call it in a task of the loop that will reap the child and serve its pipes.
///
/// Errors: std::system_error with the errno of the failed exec or spawn, naming the program
/// ("corio: cannot run 'nosuch': No such file or directory"); std::system_error for pipe
/// failures (EMFILE...; a pidfd that cannot be had only makes SIGCHLD reap the child);
/// std::logic_error outside a running loop; std::invalid_argument for stdio::to_stdout outside
/// std_err, or an empty program.
///
/// Example:
/// @code
/// corio::subprocess_options o;
/// o.std_out = corio::stdio::pipe;
/// corio::process p = corio::create_subprocess_exec("ls", {"-l", "/"}, o);
/// while (auto line = co_await p.std_out().next_line())
///     handle(*line);
/// int status = co_await p.wait();
/// @endcode
[[nodiscard]] process create_subprocess_exec(std::string program, std::vector<std::string> args,
                                             subprocess_options options = {});

/// Runs `cmd` through the shell, /bin/sh -c cmd (asyncio's create_subprocess_shell). Quote what
/// comes from outside: the shell interprets the whole string.
/// Errors: as create_subprocess_exec (a command that does not exist is reported by the shell:
/// exit status 127).
[[nodiscard]] process create_subprocess_shell(std::string cmd, subprocess_options options = {});

} // namespace corio

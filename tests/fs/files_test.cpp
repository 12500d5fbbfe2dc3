// read_file, write_file, write_file_atomic and append_file. They run on the loop's thread pool, so
// the suite's name says "Thread" (the tsan preset selects the tests that cross threads by name).

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/task_group.hpp"
#include "corio/fs/files.hpp"
#include "corio/runtime/to_thread.hpp"
#include "corio/time/sleep.hpp"

#include "fs/fs_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::task;
using corio::test::pattern;
using corio::test::run_fs;
using corio::test::scratch_dir;
using corio::test::slurp;
namespace fs = corio::fs;

// Polls `cond` once per millisecond of loop time: for conditions set by another thread.
template <typename Cond>
task<bool> until(Cond cond, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!cond()) {
        if (std::chrono::steady_clock::now() > deadline)
            co_return false;
        co_await corio::sleep(1ms);
    }
    co_return true;
}

template <typename T>
bool ended_cancelled(const corio::task_handle<T>& h) {
    if (!h.done())
        return false;
    try {
        (void)h.result();
    } catch (const corio::cancelled_error&) {
        return true;
    } catch (...) {
    }
    return false;
}

task<std::string> write_then_read(std::filesystem::path p, std::string data) {
    co_await fs::write_file(p, data);
    co_return co_await fs::read_file(p);
}

TEST(FilesThreadPool, WriteFileThenReadFileRoundTripsBinaryData) {
    scratch_dir dir;
    std::string data = "line one\nline two\n";
    data += std::string("\0\x01\xff\r\n", 5);
    EXPECT_EQ(run_fs(write_then_read(dir / "a.bin", data)), data);
    EXPECT_EQ(slurp(dir / "a.bin"), data);
}

TEST(FilesThreadPool, ReadFileOfAnEmptyFileIsEmpty) {
    scratch_dir dir;
    corio::test::spit(dir / "empty", "");
    EXPECT_EQ(run_fs(fs::read_file(dir / "empty")), "");
}

TEST(FilesThreadPool, ReadFileReadsFilesWhoseSizeIsUnknownUpFront) {
    // /proc files report size 0: the read goes on until read(2) says the end.
    const std::string status = run_fs(fs::read_file("/proc/self/status"));
    EXPECT_NE(status.find("Name:"), std::string::npos);
    EXPECT_NE(status.find("VmRSS:"), std::string::npos);
}

TEST(FilesThreadPool, WriteFileTruncatesALongerFile) {
    scratch_dir dir;
    corio::test::spit(dir / "f", std::string(10000, 'x'));
    EXPECT_EQ(run_fs(write_then_read(dir / "f", "short")), "short");
}

task<> append_three(std::filesystem::path p) {
    co_await fs::append_file(p, "one\n");
    co_await fs::append_file(p, "two\n");
    co_await fs::append_file(p, "three\n");
}

TEST(FilesThreadPool, AppendFileCreatesTheFileThenAppends) {
    scratch_dir dir;
    run_fs(append_three(dir / "log"));
    EXPECT_EQ(slurp(dir / "log"), "one\ntwo\nthree\n");
}

task<> append_blocks_concurrently(std::filesystem::path p, int n, std::size_t block) {
    corio::task_group g;
    std::vector<std::string> blocks;
    blocks.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        blocks.emplace_back(block, static_cast<char>('a' + i % 26));
    for (const std::string& b : blocks)
        g.create_task(fs::append_file(p, b));
    co_await g.join();
}

TEST(FilesThreadPool, ConcurrentAppendsOfWholeBlocksDoNotInterleave) {
    scratch_dir dir;
    const int n = 26;
    const std::size_t block = 64 * 1024;
    run_fs(append_blocks_concurrently(dir / "log", n, block));
    const std::string all = slurp(dir / "log");
    ASSERT_EQ(all.size(), n * block);
    std::vector<bool> seen(n, false);
    for (std::size_t off = 0; off < all.size(); off += block) {
        const char c = all[off];
        EXPECT_EQ(all.substr(off, block), std::string(block, c)) << "block at " << off;
        seen[static_cast<std::size_t>(c - 'a')] = true;
    }
    for (int i = 0; i < n; ++i)
        EXPECT_TRUE(seen[static_cast<std::size_t>(i)]) << i;
}

TEST(FilesThreadPool, WriteFileAtomicReplacesTheFileAndLeavesNoTemporaryFile) {
    scratch_dir dir;
    corio::test::spit(dir / "config", "old");
    auto replace = [](std::filesystem::path p) -> task<std::string> {
        co_await fs::write_file_atomic(p, "new content");
        co_return co_await fs::read_file(p);
    };
    EXPECT_EQ(run_fs(replace(dir / "config")), "new content");
    int entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
        (void)e;
        ++entries;
    }
    EXPECT_EQ(entries, 1);
}

TEST(FilesThreadPool, WriteFileAtomicIntoAMissingDirectoryNamesTheTargetAndLeavesNothing) {
    scratch_dir dir;
    const auto target = dir / "missing" / "f";
    try {
        run_fs(fs::write_file_atomic(target, "x"));
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("'" + target.string() + "'"), std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(FilesThreadPool, ReadFileOfAMissingFileThrowsSystemErrorNamingThePath) {
    scratch_dir dir;
    const auto p = dir / "nope.txt";
    try {
        (void)run_fs(fs::read_file(p));
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
        EXPECT_EQ(std::string(e.what()),
                  "corio::fs: cannot open '" + p.string() + "': No such file or directory");
    }
}

TEST(FilesThreadPool, ReadFileOfADirectoryFailsInTheReadNamingThePath) {
    scratch_dir dir;
    try {
        (void)run_fs(fs::read_file(dir.path()));
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EISDIR);
        EXPECT_EQ(std::string(e.what()),
                  "corio::fs: cannot read '" + dir.path().string() + "': Is a directory");
    }
}

TEST(FilesThreadPool, WriteFileIntoAMissingDirectoryNamesThePath) {
    scratch_dir dir;
    const auto p = dir / "no" / "such" / "dir.txt";
    try {
        run_fs(fs::write_file(p, "x"));
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("corio::fs: cannot open '" + p.string() + "'"),
                  std::string::npos);
    }
}

TEST(FilesThreadPool, A64MegabyteFileRoundTripsByteForByte) {
    scratch_dir dir;
    const std::string big = pattern(std::size_t{64} << 20);
    const std::string back = run_fs(write_then_read(dir / "big", big));
    ASSERT_EQ(back.size(), big.size());
    EXPECT_TRUE(back == big);
    EXPECT_EQ(std::filesystem::file_size(dir / "big"), big.size());
}

task<int> read_many(std::vector<std::filesystem::path> paths, std::vector<std::string> expected,
                    int readers) {
    corio::task_group g;
    std::vector<corio::task_handle<std::string>> hs;
    for (int i = 0; i < readers; ++i)
        hs.push_back(
            g.create_task(fs::read_file(paths[static_cast<std::size_t>(i) % paths.size()])));
    co_await g.join();
    int good = 0;
    for (int i = 0; i < readers; ++i)
        good += hs[static_cast<std::size_t>(i)].result() ==
                expected[static_cast<std::size_t>(i) % paths.size()];
    co_return good;
}

TEST(FilesThreadPool, HundredsOfConcurrentReadsAllGetTheirFilesContent) {
    scratch_dir dir;
    std::vector<std::filesystem::path> paths;
    std::vector<std::string> contents;
    for (int i = 0; i < 10; ++i) {
        paths.push_back(dir / ("f" + std::to_string(i)));
        contents.push_back(pattern(1000 + 7919 * static_cast<std::size_t>(i)).substr(i));
        corio::test::spit(paths.back(), contents.back());
    }
    const std::size_t fds = corio::test::open_fd_count();
    EXPECT_EQ(run_fs(read_many(paths, contents, 300), 4), 300);
    EXPECT_EQ(corio::test::open_fd_count(), fds);
}

// --- Cancellation.

struct running_cancel_report {
    bool done_before_the_call_returned = true;
    bool cancelled = false;
};

struct gate {
    std::atomic<bool> entered{false};
    std::atomic<bool> open{false};
};

// Holds the pool's only worker until the gate opens.
task<> hold_the_worker(gate* g) {
    auto blocker = [g] {
        g->entered.store(true);
        while (!g->open.load())
            std::this_thread::sleep_for(100us);
    };
    co_await corio::to_thread(blocker);
}

task<> cancel_queued_write(std::filesystem::path p, gate* g, bool* cancelled) {
    // The pool's only worker is held, so the write's job stays queued.
    auto held = corio::create_task(hold_the_worker(g), "blocker");
    co_await until([g] { return g->entered.load(); });
    auto w = corio::create_task(fs::write_file(p, "never"), "write");
    co_await corio::sleep(0s); // the write task queues its job
    w.cancel();
    co_await corio::sleep(0s);
    *cancelled = ended_cancelled(w);
    g->open.store(true);
    co_await held;
}

TEST(FilesThreadPool, AWriteCancelledWhileQueuedNeverTouchesTheFile) {
    scratch_dir dir;
    gate g;
    bool cancelled = false;
    run_fs(cancel_queued_write(dir / "f", &g, &cancelled), 1);
    EXPECT_TRUE(cancelled);
    EXPECT_FALSE(std::filesystem::exists(dir / "f"));
}

// A FIFO makes a worker block in the kernel for as long as the test wants: open(O_RDONLY) waits
// for a writer, then read() for data.
task<> cancel_running_read(std::filesystem::path fifo, running_cancel_report* r) {
    auto h = corio::create_task(fs::read_file(fifo), "read");
    // Opening the write end without blocking succeeds once the worker is in open(); the write end
    // then stays open, so the worker goes on into read() and blocks there until data comes.
    int writer = -1;
    EXPECT_TRUE(co_await until([&] {
        writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        return writer >= 0;
    }));
    h.cancel();
    for (int i = 0; i < 5; ++i)
        co_await corio::sleep(2ms);
    // The worker is in open() or read(), which cannot return before data comes: the cancellation
    // waits for it.
    r->done_before_the_call_returned = h.done();
    EXPECT_EQ(::write(writer, "abc", 3), 3);
    ::close(writer);
    EXPECT_TRUE(co_await until([&] { return h.done(); }));
    r->cancelled = ended_cancelled(h);
}

TEST(FilesThreadPool, CancellingAReadBlockedInTheKernelWaitsForTheCallThenThrowsCancelled) {
    scratch_dir dir;
    const auto fifo = dir / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const std::size_t fds = corio::test::open_fd_count();
    running_cancel_report r;
    run_fs(cancel_running_read(fifo, &r));
    EXPECT_FALSE(r.done_before_the_call_returned);
    EXPECT_TRUE(r.cancelled);
    EXPECT_EQ(corio::test::open_fd_count(), fds);
}

task<> many_operations_with_failures(std::filesystem::path dir) {
    for (int i = 0; i < 50; ++i) {
        const auto p = dir / ("f" + std::to_string(i % 5));
        co_await fs::write_file(p, "data " + std::to_string(i));
        co_await fs::append_file(p, "more");
        (void)co_await fs::read_file(p);
        co_await fs::write_file_atomic(p, "atomic");
        try {
            (void)co_await fs::read_file(dir / "missing");
        } catch (const std::system_error&) {
        }
        try {
            co_await fs::write_file(dir / "missing" / "x", "y");
        } catch (const std::system_error&) {
        }
        auto h = corio::create_task(fs::read_file(p));
        h.cancel();
        try {
            (void)co_await h;
        } catch (const corio::cancelled_error&) {
        }
    }
}

TEST(FilesThreadPool, NoFileDescriptorLeaksAfterSuccessesFailuresAndCancellations) {
    scratch_dir dir;
    const std::size_t fds = corio::test::open_fd_count();
    run_fs(many_operations_with_failures(dir.path()));
    EXPECT_EQ(corio::test::open_fd_count(), fds);
}

TEST(FilesThreadPool, ACallWhoseCancellationIsPendingThrowsWithoutStartingAnything) {
    scratch_dir dir;
    auto cancelled_first = [](std::filesystem::path p) -> task<bool> {
        corio::current_task().cancel(); // pending: the next suspension point throws
        try {
            co_await fs::write_file(p, "x");
        } catch (const corio::cancelled_error&) {
            co_return true;
        }
        co_return false;
    };
    EXPECT_TRUE(run_fs(cancelled_first(dir / "f")));
    EXPECT_FALSE(std::filesystem::exists(dir / "f"));
}

} // namespace

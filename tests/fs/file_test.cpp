// corio::fs::file. Its operations run on the loop's thread pool, so the suite's name says
// "Thread" (the tsan preset selects the tests that cross threads by name).

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/task_group.hpp"
#include "corio/fs/file.hpp"

#include "fs/fs_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>

#include <cstring>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::task;
using corio::fs::file;
using corio::fs::open_mode;
using corio::test::pattern;
using corio::test::run_fs;
using corio::test::scratch_dir;
using corio::test::slurp;

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

struct rw_report {
    std::string first_read;
    std::size_t read_at_end = 99;
    std::uint64_t size = 0;
    std::string pread_middle;
    bool open_after_close = true;
};

task<rw_report> write_read_back(std::filesystem::path p) {
    rw_report r;
    file f = co_await file::open(p, open_mode::read | open_mode::write | open_mode::create |
                                        open_mode::truncate);
    co_await f.write(bytes_of("hello, world"));
    co_await f.pwrite(bytes_of("HELLO"), 0); // does not move the file position
    co_await f.write(bytes_of("!"));
    r.size = co_await f.size();
    co_await f.sync();

    char buf[64] = {};
    auto mid = std::as_writable_bytes(std::span(buf, 5));
    const std::size_t n = co_await f.pread(mid, 7);
    r.pread_middle.assign(buf, n);

    file g = co_await file::open(p, open_mode::read);
    const std::size_t got = co_await g.read(std::as_writable_bytes(std::span(buf)));
    r.first_read.assign(buf, got);
    r.read_at_end = co_await g.read(std::as_writable_bytes(std::span(buf)));
    co_await g.close();
    co_await f.close();
    r.open_after_close = f.is_open() || g.is_open();
    co_return r;
}

TEST(FileThreadPool, WritePwriteSizePreadReadAndCloseWorkTogether) {
    scratch_dir dir;
    const rw_report r = run_fs(write_read_back(dir / "f"));
    EXPECT_EQ(r.size, 13u);
    EXPECT_EQ(r.first_read, "HELLO, world!");
    EXPECT_EQ(r.pread_middle, "world");
    EXPECT_EQ(r.read_at_end, 0u);
    EXPECT_FALSE(r.open_after_close);
    EXPECT_EQ(slurp(dir / "f"), "HELLO, world!");
}

task<> append_mode_writes_at_the_end(std::filesystem::path p) {
    file f = co_await file::open(p, open_mode::append | open_mode::create);
    co_await f.write(bytes_of("b"));
    co_await f.write(bytes_of("c"));
    co_await f.close();
}

TEST(FileThreadPool, AppendModeWritesAtTheEndOfWhatIsThere) {
    scratch_dir dir;
    corio::test::spit(dir / "f", "a");
    run_fs(append_mode_writes_at_the_end(dir / "f"));
    EXPECT_EQ(slurp(dir / "f"), "abc");
}

TEST(FileThreadPool, OpeningAMissingFileNamesThePath) {
    scratch_dir dir;
    const auto p = dir / "missing";
    try {
        (void)run_fs(file::open(p, open_mode::read));
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
        EXPECT_EQ(std::string(e.what()),
                  "corio::fs: cannot open '" + p.string() + "': No such file or directory");
    }
}

TEST(FileThreadPool, ExclusiveCreateOfAnExistingFileFailsWithEexist) {
    scratch_dir dir;
    corio::test::spit(dir / "f", "x");
    try {
        (void)run_fs(
            file::open(dir / "f", open_mode::write | open_mode::create | open_mode::exclusive));
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::file_exists);
    }
    EXPECT_EQ(slurp(dir / "f"), "x");
}

TEST(FileThreadPool, AModeWithoutReadOrWriteIsRejected) {
    EXPECT_THROW((void)run_fs(file::open("/dev/null", open_mode::create)), std::invalid_argument);
}

task<std::string> write_to_read_only(std::filesystem::path p) {
    file f = co_await file::open(p, open_mode::read);
    try {
        co_await f.write(bytes_of("x"));
    } catch (const std::system_error& e) {
        co_return e.what();
    }
    co_return "";
}

TEST(FileThreadPool, AWriteToAFileOpenedForReadingFailsNamingThePath) {
    scratch_dir dir;
    corio::test::spit(dir / "f", "x");
    EXPECT_EQ(run_fs(write_to_read_only(dir / "f")),
              "corio::fs: cannot write '" + (dir / "f").string() + "': Bad file descriptor");
}

task<bool> use_after_close() {
    file f = co_await file::open("/dev/null", open_mode::read);
    co_await f.close();
    co_await f.close(); // closing twice does nothing
    try {
        (void)co_await f.size();
    } catch (const std::logic_error&) {
        co_return true;
    }
    co_return false;
}

TEST(FileThreadPool, OperationsOnAClosedFileThrowLogicError) {
    EXPECT_TRUE(run_fs(use_after_close()));
}

// 64 MiB written by concurrent pwrites of 1 MiB chunks, read back by concurrent preads.
task<bool> big_file_in_chunks(std::filesystem::path p, const std::string* data) {
    constexpr std::size_t chunk = std::size_t{1} << 20;
    file f = co_await file::open(p, open_mode::read | open_mode::write | open_mode::create |
                                        open_mode::truncate);
    {
        corio::task_group g;
        for (std::size_t off = 0; off < data->size(); off += chunk)
            g.create_task(f.pwrite(bytes_of(std::string_view(*data).substr(off, chunk)), off));
        co_await g.join();
    }
    EXPECT_EQ(co_await f.size(), data->size());
    std::string back(data->size(), '\0');
    {
        corio::task_group g;
        for (std::size_t off = 0; off < back.size(); off += chunk)
            g.create_task(
                f.pread(std::as_writable_bytes(std::span(back.data() + off, chunk)), off));
        co_await g.join();
    }
    co_await f.close();
    co_return back == *data;
}

TEST(FileThreadPool, A64MegabyteFileWrittenAndReadByConcurrentChunksRoundTrips) {
    scratch_dir dir;
    const std::string data = pattern(std::size_t{64} << 20);
    EXPECT_TRUE(run_fs(big_file_in_chunks(dir / "big", &data), 8));
    EXPECT_EQ(std::filesystem::file_size(dir / "big"), data.size());
}

task<> open_and_drop(std::filesystem::path dir) {
    for (int i = 0; i < 100; ++i) {
        file f = co_await file::open(dir / ("f" + std::to_string(i % 3)),
                                     open_mode::write | open_mode::create);
        if (i % 2 == 0)
            co_await f.close(); // the others are closed by the destructor
        file moved = std::move(f);
        file assigned;
        assigned = std::move(moved);
    }
    auto h = corio::create_task(file::open(dir / "g", open_mode::write | open_mode::create));
    h.cancel();
    try {
        (void)co_await h;
    } catch (const corio::cancelled_error&) {
    }
}

TEST(FileThreadPool, FilesClosedDroppedMovedOrCancelledLeakNoDescriptor) {
    scratch_dir dir;
    const std::size_t fds = corio::test::open_fd_count();
    run_fs(open_and_drop(dir.path()));
    EXPECT_EQ(corio::test::open_fd_count(), fds);
}

} // namespace

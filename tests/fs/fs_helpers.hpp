#pragma once

// Shared by the fs/ tests: a fresh temporary directory per test, and a loop to run tasks on.

#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/loop_options.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace corio::test {

/// A directory of its own for one test, removed with everything in it afterwards.
class scratch_dir {
  public:
    scratch_dir() {
        static std::atomic<int> counter{0};
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_path = std::filesystem::temp_directory_path() /
                 ("corio-fs-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                  (info ? info->name() : "x"));
        std::filesystem::remove_all(m_path);
        std::filesystem::create_directories(m_path);
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
        return m_path / name;
    }

  private:
    std::filesystem::path m_path;
};

/// The file's bytes, read synchronously (the reference the async reads are compared with).
inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Writes `data` to `p` synchronously.
inline void spit(const std::filesystem::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
}

/// `n` bytes of a pattern in which no 4 KiB block repeats the previous one (so that a chunk
/// copied to the wrong place shows).
inline std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s[i] = static_cast<char>(x);
    }
    return s;
}

/// Runs `t` on a fresh real-time loop (fs/ runs on the loop's thread pool, so the virtual clock
/// brings nothing here) and returns its result.
template <typename T>
T run_fs(task<T> t, std::size_t threads = 0) {
    loop_options o;
    o.default_executor_threads = threads;
    event_loop loop(o);
    return loop.run_until_complete(std::move(t));
}

} // namespace corio::test

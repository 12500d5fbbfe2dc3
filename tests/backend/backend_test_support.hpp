#pragma once

// Shared pieces of the backend conformance suite: the backend names it runs under, an
// operation that records its completion, and helpers that drive a backend until something
// happens. Every backend must pass the suite; add a name to backend_names() when one is added.

#include "backend/backend.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace corio::test {

using detail::io_kind;
using detail::io_operation;

/// The backends (and modes) the conformance suite runs under: every backend that can be
/// created on this machine (detail::available_backends()), epoll in both of its modes.
inline auto backend_names() {
    // Names as C strings that live as long as the test program.
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const std::string& family : detail::available_backends()) {
            if (family == "epoll") {
                v.emplace_back("epoll-et");
                v.emplace_back("epoll-lt");
            } else {
                v.push_back(family);
            }
        }
        return v;
    }();
    static const std::vector<const char*> c_names = [] {
        std::vector<const char*> v;
        for (const std::string& name : names)
            v.push_back(name.c_str());
        return v;
    }();
    return testing::ValuesIn(c_names);
}

/// True when the backend `name` can be created here (io_uring may be disabled or filtered).
inline bool backend_available(const char* name) {
    if (std::string_view(name) == "io_uring") {
        try {
            (void)detail::make_io_uring_backend(); // make_backend would fall back to epoll
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }
    try {
        (void)detail::make_backend(name);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

/// gtest's name for a backend parameter ("epoll-lt" -> "epoll_lt").
inline std::string backend_param_name(const testing::TestParamInfo<const char*>& info) {
    std::string name(info.param);
    for (char& c : name) {
        if (c == '-')
            c = '_';
    }
    return name;
}

/// The family of a backend name ("epoll-lt" -> "epoll"): what backend::name() reports.
inline std::string backend_family(const char* name) {
    const std::string s(name);
    return s.substr(0, s.find('-'));
}

/// An operation that records how it completed. `then` (optional) runs inside the completion
/// callback, to test what a callback may do to the backend.
struct test_op : io_operation {
    /// How many times the backend called m_complete (must end at most 1).
    int completions = 0;
    /// True once the operation completed, at once or through m_complete.
    bool done = false;
    /// When set, each completion appends this operation's `id` here.
    std::vector<int>* order = nullptr;
    int id = 0;
    std::function<void(test_op&)> then;

    test_op(io_kind kind, int fd) {
        m_kind = kind;
        m_fd = fd;
        m_complete = [](io_operation* op) noexcept {
            auto* self = static_cast<test_op*>(op);
            ++self->completions;
            self->finish();
        };
    }
    /// A recv/send/read/write of `len` bytes at `buf` (see set_buffer).
    test_op(io_kind kind, int fd, void* buf, std::size_t len, int flags = 0) : test_op(kind, fd) {
        m_buf = buf;
        m_len = len;
        m_flags = flags;
    }
    /// A recvmsg/sendmsg with `msg`.
    test_op(io_kind kind, int fd, msghdr* msg) : test_op(kind, fd) { m_msg = msg; }
    test_op(const test_op&) = delete;
    test_op& operator=(const test_op&) = delete;

    void finish() {
        done = true;
        if (order)
            order->push_back(id);
        if (then)
            then(*this);
    }
};

/// A recv/send/read/write of `len` bytes at `buf`.
inline void set_buffer(test_op& op, void* buf, std::size_t len, int flags = 0) {
    op.m_buf = buf;
    op.m_len = len;
    op.m_flags = flags;
}

/// Submits `op`; when it completes at once, marks it done (as a completion would). Returns what
/// submit() returned.
inline bool start(detail::backend& b, test_op& op) {
    const bool now = b.submit(op);
    if (now)
        op.finish();
    return now;
}

/// Calls wait() until `until()` holds or `limit` passes; returns `until()`.
template <typename Pred>
bool drive(detail::backend& b, Pred until,
           std::chrono::nanoseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!until()) {
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds::zero())
            return until();
        b.wait(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    }
    return true;
}

/// Starts `op` and drives the backend until it completes; returns its result (or a sentinel
/// that fails every expectation when it never completes).
inline std::int64_t run_op(detail::backend& b, test_op& op) {
    start(b, op);
    if (!drive(b, [&] { return op.done; })) {
        ADD_FAILURE() << "the operation did not complete";
        (void)b.cancel(op);
        return -99999;
    }
    return op.m_result;
}

/// Waits once more without blocking, and then for `linger`, to let wrong completions show up.
inline void settle(detail::backend& b,
                   std::chrono::nanoseconds linger = std::chrono::milliseconds(10)) {
    b.wait(std::chrono::nanoseconds::zero());
    b.wait(linger);
}

} // namespace corio::test

#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace corio::sys {

/// Throws std::system_error for `err` (an errno value) with a message naming the call.
[[noreturn]] inline void throw_errno(int err, const char* what) {
    throw std::system_error(err, std::generic_category(), what);
}

/// Throws std::system_error for the current errno, naming the call.
[[noreturn]] inline void throw_last_errno(const char* what) {
    throw_errno(errno, what);
}

} // namespace corio::sys

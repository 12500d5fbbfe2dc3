#pragma once

// Small helpers shared by the unit tests.

#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/loop_options.hpp"

#include <dirent.h>

#include <cstddef>
#include <utility>

namespace corio::test {

/// Options for a loop on the virtual clock: time jumps to the next timer when nothing is ready.
inline loop_options virtual_clock() {
    loop_options o;
    o.clock = clock_mode::virtual_time;
    return o;
}

/// Runs `t` to completion on a new loop on the virtual clock and returns its result.
template <typename T>
T run_virtual(task<T> t) {
    event_loop loop(virtual_clock());
    return loop.run_until_complete(std::move(t));
}

/// The number of file descriptors this process has open (entries of /proc/self/fd, without the
/// one opendir uses itself).
inline std::size_t open_fd_count() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d)
        return 0;
    std::size_t n = 0;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.')
            ++n;
    }
    ::closedir(d);
    return n - 1;
}

} // namespace corio::test

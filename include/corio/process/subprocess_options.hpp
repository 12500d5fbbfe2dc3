#pragma once

#include "corio/io/stream_options.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corio {

/// What a child's standard stream is connected to (asyncio's PIPE, DEVNULL, STDOUT and None).
enum class stdio : std::uint8_t {
    inherit,   ///< the parent's own fd (asyncio's None)
    pipe,      ///< a pipe to the parent: process::std_in() / std_out() / std_err() (PIPE)
    devnull,   ///< /dev/null (DEVNULL)
    to_stdout, ///< stderr only: wherever stdout goes (asyncio's STDOUT)
};

/// How create_subprocess_exec / create_subprocess_shell start the child (asyncio's keyword
/// arguments, Popen's subset that matters on POSIX).
struct subprocess_options {
    stdio std_in = stdio::inherit;
    stdio std_out = stdio::inherit;
    stdio std_err = stdio::inherit;
    /// The child's working directory; unset: the parent's.
    std::optional<std::string> cwd{};
    /// The child's whole environment ("NAME=value" entries); unset: the parent's.
    std::optional<std::vector<std::string>> env{};
    /// Buffering of the pipe streams (the readers' limit, the writer's water marks).
    stream_options streams{};
};

} // namespace corio

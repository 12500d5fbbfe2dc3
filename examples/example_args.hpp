#pragma once

// The command line shared by the network examples (echo_server, echo_client, chat_server):
// `[--host H] [--port N] [--self-test]`, and `[--count N]` for the programs that send a number
// of lines. Kept to what the examples need, so that each example still reads on its own.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace examples {

/// What an example was asked to do.
struct example_args {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    /// --count (only where parse_example_args was given a default for it).
    int count = 0;
    /// --self-test: run against itself on a free port, then exit.
    bool self_test = false;
};

/// Parses `--host H`, `--port N`, `--self-test` and, when `default_count` is given, `--count
/// N`. Returns nullopt after printing the usage to stderr when an argument is unknown or lacks
/// its value.
inline std::optional<example_args> parse_example_args(int argc, char** argv,
                                                      std::uint16_t default_port,
                                                      std::optional<int> default_count = {}) {
    example_args args;
    args.port = default_port;
    args.count = default_count.value_or(0);
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--self-test")
            args.self_test = true;
        else if (a == "--host" && i + 1 < argc)
            args.host = argv[++i];
        else if (a == "--port" && i + 1 < argc)
            args.port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        else if (default_count && a == "--count" && i + 1 < argc)
            args.count = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--host H] [--port N]%s [--self-test]\n", argv[0],
                         default_count ? " [--count N]" : "");
            return std::nullopt;
        }
    }
    return args;
}

} // namespace examples

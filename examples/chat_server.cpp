// A line-based chat server: every line a client sends is broadcast to the others, with a
// message when someone joins or leaves.
//
//   chat_server [--host 127.0.0.1] [--port 8889]   serve until Ctrl-C (try several `nc`s)
//   chat_server --self-test                        run a scripted chat, with a slow client
//
// Slow clients: a broadcast never waits for a client. It hands each line to the client's
// writer with write_nowait, which sends at once as far as that client's socket takes it and
// buffers the rest. A client that stops reading therefore cannot stall the sender or the other
// clients; its backlog only grows, and once it passes max_backlog the server disconnects it
// (abort: a TCP reset, the backlog dropped) and tells the others. The bound keeps the server's
// memory per client bounded too.

#include "corio/corio.hpp"

#include "example_args.hpp"

#include <cstddef>
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

/// The most a client may have waiting to be sent before it is dropped.
constexpr std::size_t max_backlog = 256 * 1024;

void log(const std::string& text) {
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
}

class chat_room {
  public:
    /// One connection: announce it, relay its lines, announce its departure.
    corio::task<> serve(corio::stream_reader reader, corio::stream_writer writer) {
        const int id = ++m_last_id;
        const std::string name = "user" + std::to_string(id);
        m_members.emplace(id, member{name, writer});
        log(name + " joined from " + writer.peer_endpoint().to_string());
        writer.write_nowait("* welcome, " + name + "\n");
        broadcast(id, "* " + name + " joined\n");
        try {
            while (auto line = co_await reader.next_line()) {
                if (!m_members.contains(id))
                    break; // dropped as too slow while we waited
                if (line->back() != '\n')
                    line->push_back('\n');
                broadcast(id, name + ": " + *line);
            }
        } catch (const std::exception& e) {
            log(name + ": " + e.what()); // a reset, or a line longer than the limit
        }
        if (m_members.erase(id) != 0) {
            log(name + " left");
            broadcast(id, "* " + name + " left\n");
        }
        writer.close();
    }

    /// Sends `text` to every member but `from`, without waiting for any of them.
    void broadcast(int from, const std::string& text) {
        std::vector<int> too_slow;
        for (auto& [id, m] : m_members) {
            if (id == from)
                continue;
            try {
                m.writer.write_nowait(text);
                if (m.writer.write_buffer_size() > max_backlog)
                    too_slow.push_back(id);
            } catch (const std::exception&) {
                too_slow.push_back(id); // its connection failed; it leaves
            }
        }
        for (int id : too_slow)
            drop(id);
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_members.size(); }

  private:
    struct member {
        std::string name;
        corio::stream_writer writer;
    };

    void drop(int id) {
        auto it = m_members.find(id);
        if (it == m_members.end())
            return;
        member m = std::move(it->second);
        m_members.erase(it);
        m.writer.abort(); // its pending read ends, and its serve() returns
        log(m.name + " was too slow and was disconnected");
        broadcast(id, "* " + m.name + " was disconnected (too slow)\n");
    }

    std::map<int, member> m_members;
    int m_last_id = 0;
};

corio::task<int> serve(std::string host, std::uint16_t port) {
    chat_room room;
    auto handler = [&room](corio::stream_reader r, corio::stream_writer w) {
        return room.serve(std::move(r), std::move(w));
    };
    corio::server srv = co_await corio::start_server(handler, host, port);
    for (const corio::net::endpoint& e : srv.endpoints())
        log("chat on " + e.to_string() + " (Ctrl-C to stop)");
    try {
        co_await srv.serve_forever();
    } catch (const corio::cancelled_error&) {
        log("stopping");
    }
    srv.close_clients();
    co_return 0;
}

// --- self-test ---------------------------------------------------------------------------

corio::task<corio::streams> join(std::uint16_t port) {
    corio::streams c = co_await corio::open_connection("127.0.0.1", port);
    (void)co_await c.reader.readline(); // "* welcome, userN"
    co_return c;
}

/// Reads lines until one equals `want` (skipping join/leave notices); false at the end.
corio::task<bool> expect_line(corio::stream_reader& r, std::string want) {
    while (auto line = co_await r.next_line())
        if (*line == want)
            co_return true;
    co_return false;
}

corio::task<int> self_test() {
    chat_room room;
    auto handler = [&room](corio::stream_reader r, corio::stream_writer w) {
        return room.serve(std::move(r), std::move(w));
    };
    corio::server srv = co_await corio::start_server(handler, "127.0.0.1", 0);
    const std::uint16_t port = srv.endpoints().at(0).port();
    int failures = 0;
    auto check = [&failures](bool ok, const char* what) {
        log(std::string(ok ? "ok: " : "FAILED: ") + what);
        failures += ok ? 0 : 1;
    };

    corio::streams alice = co_await join(port); // user1
    corio::streams bob = co_await join(port);   // user2
    check(co_await expect_line(alice.reader, "* user2 joined\n"), "alice sees bob join");
    co_await alice.writer.write("hello bob\n");
    check(co_await expect_line(bob.reader, "user1: hello bob\n"), "bob gets alice's line");

    // A client that never reads, with a small receive buffer: the room's broadcasts pile up in
    // its writer until the server drops it, and bob keeps getting every line meanwhile.
    corio::streams slow = co_await corio::open_connection("127.0.0.1", port); // user3
    slow.writer.socket()->set_option(SOL_SOCKET, SO_RCVBUF, 4096);
    check(co_await expect_line(bob.reader, "* user3 joined\n"), "bob sees the slow client join");
    // The kernel buffers of the slow connection absorb the first megabytes; the room's backlog
    // bound takes over after that.
    const std::string big(8000, 'x');
    int sent = 0;
    int received_by_bob = 0;
    for (; sent < 4000 && room.size() == 3; ++sent) {
        co_await alice.writer.write(std::to_string(sent) + " " + big + "\n");
        if (co_await expect_line(bob.reader, "user1: " + std::to_string(sent) + " " + big + "\n"))
            ++received_by_bob;
    }
    check(room.size() == 2, "the slow client was disconnected");
    check(received_by_bob == sent, "bob got every line while a client did not read");
    log("(after " + std::to_string(sent) + " lines of 8 KB)");

    co_await bob.writer.write("bye\n");
    check(co_await expect_line(alice.reader, "user2: bye\n"), "alice gets bob's goodbye");
    bob.writer.close();
    check(co_await expect_line(alice.reader, "* user2 left\n"), "alice sees bob leave");

    alice.writer.close();
    srv.close();
    co_await srv.wait_closed();
    log(failures == 0 ? "self-test passed" : "self-test FAILED");
    co_return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    const auto args = examples::parse_example_args(argc, argv, 8889);
    if (!args)
        return 2;
    try {
        return args->self_test ? corio::run(self_test())
                               : corio::run(serve(args->host, args->port));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_server: %s\n", e.what());
        return 1;
    }
}

// Graceful shutdown of a server on SIGTERM (what systemd, Docker and Kubernetes send): stop
// accepting, let the requests in flight finish within a deadline, close idle connections, abort
// what is left after the deadline, exit 0.
//
// The protocol: a client sends "work <ms>\n" lines; the server works that long (a sleep) and
// answers "done <ms>\n". A connection is busy while it works and idle while it waits for the
// next request.
//
//   graceful_server [--port 8888] [--grace-ms 5000]   serve until SIGTERM or Ctrl-C
//   graceful_server --self-test                       check the shutdown against itself
//
// Try it: `graceful_server & nc 127.0.0.1 8888` (type "work 3000"), then `kill %1`.

#include "corio/corio.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <list>
#include <string>
#include <string_view>

namespace {

using namespace std::chrono_literals;

void log(const std::string& text) {
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
}

/// One connection as the shutdown sees it: its handler task, its writer, and whether a request
/// is in flight.
struct connection {
    corio::task_ref task;
    corio::stream_writer writer;
    bool busy = false;
};

/// What the connections share: the shutdown flag and the open connections.
struct server_state {
    bool stopping = false;
    std::list<connection> connections;

    /// Shutdown: every idle connection reads the end of its stream, so its handler ends; a busy
    /// one ends after answering its request.
    void close_idle() {
        for (connection& c : connections)
            if (!c.busy)
                c.writer.close();
    }
    /// Deadline: the handlers still working are cancelled.
    void cancel_all() {
        for (connection& c : connections)
            c.task.cancel();
    }
};

/// One connection: requests one after the other until the client leaves or shutdown begins
/// (a request in flight is finished and answered first).
corio::task<> handle(server_state& st, corio::stream_reader reader, corio::stream_writer writer) {
    st.connections.push_back(connection{corio::current_task(), writer, false});
    auto self = std::prev(st.connections.end());
    struct forget {
        server_state& st;
        std::list<connection>::iterator it;
        ~forget() { st.connections.erase(it); }
    } guard{st, self};
    while (!st.stopping) {
        auto line = co_await reader.next_line();
        if (!line)
            break;
        self->busy = true;
        const std::string_view req(*line);
        if (req.substr(0, 5) != "work ") {
            co_await writer.write("error: expected 'work <ms>'\n");
        } else {
            const int ms = std::atoi(line->c_str() + 5);
            co_await corio::sleep(std::chrono::milliseconds(ms)); // the work in flight
            const std::string reply = "done " + std::to_string(ms) + "\n";
            co_await writer.write(reply);
        }
        self->busy = false;
    }
}

/// Serves until SIGTERM or SIGINT, then shuts down gracefully within `grace`. Reports the
/// port it listens on through `bound` (for the self-test's port 0).
corio::task<int> serve(std::uint16_t port, std::chrono::milliseconds grace,
                       std::uint16_t* bound = nullptr) {
    server_state st;
    // Named, and started outside the co_await (g++ 12 pitfall, see DESIGN.md).
    corio::connection_handler handler = [&st](corio::stream_reader r,
                                              corio::stream_writer w) -> corio::task<> {
        return handle(st, std::move(r), std::move(w));
    };
    // Listen to the signals before the server exists, so that none is missed.
    corio::signal_set stop{SIGTERM, SIGINT};
    auto starting = corio::start_server(handler, "127.0.0.1", port);
    corio::server srv = co_await starting;
    if (bound)
        *bound = srv.endpoints().at(0).port();
    log("listening on " + srv.endpoints().at(0).to_string());

    const int sig = co_await stop.wait();
    log(std::string("got ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": stopping");

    // 1. Stop accepting: the listening socket closes, new clients are refused.
    srv.close();
    // 2. Idle connections end now; busy ones end after their current request.
    st.stopping = true;
    st.close_idle();
    // 3. Give the requests in flight `grace` to finish.
    bool in_time = true;
    try {
        auto closed = srv.wait_closed();
        auto bounded = corio::wait_for(std::move(closed), grace);
        co_await bounded;
        log("all connections finished");
    } catch (const corio::timeout_error&) {
        in_time = false;
    }
    if (!in_time) {
        // 4. Deadline: cancel the handlers still working and abort their connections (a reset:
        // what they had not sent is dropped).
        log("deadline: aborting " + std::to_string(st.connections.size()) + " connection(s)");
        st.cancel_all();
        srv.abort_clients();
        auto closed = srv.wait_closed();
        co_await closed;
    }
    log("stopped");
    co_return 0;
}

// --- self-test ---------------------------------------------------------------------------

corio::task<int> self_test() {
    std::uint16_t port = 0;
    auto server = corio::create_task(serve(0, 300ms, &port));
    while (port == 0)
        co_await corio::sleep(1ms);
    int failures = 0;
    auto check = [&](bool ok, const std::string& what) {
        log((ok ? "ok: " : "FAILED: ") + what);
        failures += ok ? 0 : 1;
    };

    auto connect = [port] { return corio::open_connection("127.0.0.1", port); };
    auto ca = connect();
    auto [ar, aw] = co_await ca; // a short request
    auto cb = connect();
    auto [br, bw] = co_await cb; // idle
    auto cc = connect();
    auto [cr, cw] = co_await cc; // too long a request
    co_await aw.write("work 1\n");
    check(co_await ar.readline() == "done 1\n", "a request before shutdown is served");

    co_await aw.write("work 100\n");
    co_await cw.write("work 60000\n");
    co_await corio::sleep(20ms); // both requests are in flight
    ::kill(::getpid(), SIGTERM);

    // In flight within the deadline: answered, then the server ends the connection.
    std::string a = co_await ar.read();
    check(a == "done 100\n", "the request in flight is answered");
    check((co_await ar.read()).empty(), "then its connection is closed");
    // Idle: closed at once.
    check((co_await br.read()).empty(), "the idle connection is closed");
    // Past the deadline: aborted without an answer.
    std::string c;
    try {
        c = co_await cr.read();
    } catch (const std::system_error&) {
        c = ""; // reset by the abort
    }
    check(c.empty(), "the request past the deadline is aborted");

    const int rc = co_await server;
    check(rc == 0, "the server exits with 0");
    bool refused = false;
    try {
        auto attempt = connect();
        auto late = co_await attempt;
    } catch (const std::exception&) {
        refused = true;
    }
    check(refused, "new connections are refused after shutdown");
    log(failures == 0 ? "self-test passed" : "self-test FAILED");
    co_return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 8888;
    long grace_ms = 5000;
    bool test = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--self-test")
            test = true;
        else if (a == "--port" && i + 1 < argc)
            port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        else if (a == "--grace-ms" && i + 1 < argc)
            grace_ms = std::atol(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--port N] [--grace-ms MS] [--self-test]\n", argv[0]);
            return 2;
        }
    }
    try {
        return test ? corio::run(self_test())
                    : corio::run(serve(port, std::chrono::milliseconds(grace_ms)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "graceful_server: %s\n", e.what());
        return 1;
    }
}

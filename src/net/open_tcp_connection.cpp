#include "corio/net/open_tcp_connection.hpp"

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/core/wait.hpp"
#include "corio/net/resolve.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <stdexcept>
#include <utility>

namespace corio::net {

// ------------------------------------------------------------------------- connect_error ---

namespace {

std::error_code shared_code(const std::vector<connect_attempt>& attempts) {
    if (attempts.empty())
        return std::make_error_code(std::errc::host_unreachable);
    for (const connect_attempt& a : attempts)
        if (a.error != attempts.front().error)
            return attempts.front().error;
    return attempts.front().error;
}

} // namespace

connect_error::connect_error(std::string what, std::vector<connect_attempt> attempts)
    : std::system_error(shared_code(attempts), what), m_attempts(std::move(attempts)) {
    m_what = std::move(what);
    if (m_attempts.size() == 1) {
        m_what += ": " + m_attempts.front().error.message();
        return;
    }
    m_what += ": all " + std::to_string(m_attempts.size()) + " attempts failed: ";
    for (std::size_t i = 0; i < m_attempts.size(); ++i) {
        if (i)
            m_what += "; ";
        m_what += m_attempts[i].target.to_string() + ": " + m_attempts[i].error.message();
    }
}

// ----------------------------------------------------------------- interleave_addresses ---

std::vector<endpoint> interleave_addresses(std::vector<endpoint> addresses,
                                           int first_family_count) {
    if (first_family_count <= 0 || addresses.empty())
        return addresses;
    // Families in order of first appearance.
    std::vector<std::vector<endpoint>> by_family;
    std::vector<int> families;
    for (const endpoint& e : addresses) {
        auto it = std::find(families.begin(), families.end(), e.family());
        if (it == families.end()) {
            families.push_back(e.family());
            by_family.emplace_back();
            it = families.end() - 1;
        }
        by_family[static_cast<std::size_t>(it - families.begin())].push_back(e);
    }
    std::vector<endpoint> out;
    out.reserve(addresses.size());
    // The first family leads with first_family_count addresses (the first of which is also the
    // first of the round robin below).
    std::vector<std::size_t> next(by_family.size(), 0);
    const auto lead =
        std::min(static_cast<std::size_t>(first_family_count - 1), by_family[0].size());
    for (; next[0] < lead; ++next[0])
        out.push_back(by_family[0][next[0]]);
    for (bool any = true; any;) {
        any = false;
        for (std::size_t f = 0; f < by_family.size(); ++f) {
            if (next[f] < by_family[f].size()) {
                out.push_back(by_family[f][next[f]++]);
                any = true;
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------------- happy eyeballs ---

namespace {

task<tcp_stream> connect_one(endpoint target, std::optional<endpoint> local) {
    if (local && local->family() != target.family())
        throw std::system_error(EAFNOSUPPORT, std::generic_category(),
                                "connect to " + target.to_string() +
                                    ": no local address of "
                                    "its family (the local address is " +
                                    local->to_string() + ")");
    co_return co_await tcp_stream::connect(target, local);
}

struct attempt {
    std::size_t index;
    endpoint target;
    task_handle<tcp_stream> handle;
};

struct failure {
    std::size_t index;
    connect_attempt what;
};

/// Cancels the attempts still running and waits until they have finished, so that every socket
/// they opened is closed when this returns. Failures are marked retrieved (nobody reports them).
task<void> stop_attempts(std::vector<attempt>& live) {
    std::vector<task_handle<tcp_stream>> handles;
    for (attempt& a : live) {
        a.handle.cancel();
        handles.push_back(a.handle);
    }
    if (!handles.empty()) {
        auto all = corio::wait(std::move(handles), return_when::all_completed);
        (void)co_await std::move(all);
    }
    for (attempt& a : live)
        (void)a.handle.exception(); // marks it retrieved; a late success is closed with the frame
    live.clear();
}

task<tcp_stream> race(std::vector<endpoint> order, happy_eyeballs_options options,
                      std::string what) {
    if (order.size() == 1) {
        // Nothing to race: the connect runs in this task, as asyncio's does, and fails with the
        // same connect_error as a race of one.
        std::error_code failed;
        try {
            auto connecting = connect_one(order.front(), options.local_address);
            co_return co_await std::move(connecting);
        } catch (const std::system_error& err) {
            failed = err.code();
        }
        throw connect_error(std::move(what), {connect_attempt{order.front(), failed}});
    }
    std::vector<attempt> live;
    std::vector<failure> failures;
    std::size_t next = 0;
    std::optional<tcp_stream> winner;
    std::exception_ptr fatal;

    auto start_next = [&] {
        attempt a{next, order[next],
                  corio::create_task(connect_one(order[next], options.local_address))};
        ++next;
        live.push_back(std::move(a));
    };

    try {
        start_next();
        while (!winner) {
            if (live.empty()) {
                if (next == order.size())
                    break;
                start_next();
                continue;
            }
            std::optional<scheduler::duration> delay;
            if (next < order.size() && options.connect_attempt_delay)
                delay =
                    std::chrono::duration_cast<scheduler::duration>(*options.connect_attempt_delay);
            std::vector<task_handle<tcp_stream>> handles;
            handles.reserve(live.size());
            for (const attempt& a : live)
                handles.push_back(a.handle);
            auto waiting = corio::wait(std::move(handles), return_when::first_completed, delay);
            const auto result = co_await std::move(waiting);

            bool failed = false;
            for (auto it = live.begin(); it != live.end();) {
                if (!it->handle.done()) {
                    ++it;
                    continue;
                }
                if (std::exception_ptr e = it->handle.exception()) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::system_error& err) {
                        failures.push_back({it->index, {it->target, err.code()}});
                        failed = true;
                    } catch (...) {
                        // Not a connection failure (bad_alloc...): it ends the race.
                        if (!fatal)
                            fatal = std::current_exception();
                    }
                } else if (!winner) {
                    winner.emplace(std::move(it->handle.promise().result_ref()));
                }
                // A second success in the same round is closed with its task's frame.
                it = live.erase(it);
            }
            if (winner || fatal)
                break;
            // The delay passed without an answer, or an attempt failed: start the next one now.
            if ((result.done.empty() || failed) && next < order.size())
                start_next();
        }
    } catch (...) {
        fatal = std::current_exception();
    }

    co_await stop_attempts(live);
    if (fatal)
        std::rethrow_exception(fatal);
    if (winner)
        co_return std::move(*winner);
    std::sort(failures.begin(), failures.end(),
              [](const failure& a, const failure& b) { return a.index < b.index; });
    std::vector<connect_attempt> attempts;
    attempts.reserve(failures.size());
    for (failure& f : failures)
        attempts.push_back(f.what);
    throw connect_error(std::move(what), std::move(attempts));
}

} // namespace

task<tcp_stream> open_tcp_connection(std::vector<endpoint> addresses,
                                     happy_eyeballs_options options) {
    if (addresses.empty())
        throw std::invalid_argument("corio::net::open_tcp_connection: no address to connect to");
    std::string what = "connect to " + addresses.front().to_string();
    if (addresses.size() > 1)
        what += " and " + std::to_string(addresses.size() - 1) + " other address" +
                (addresses.size() > 2 ? "es" : "");
    addresses = interleave_addresses(std::move(addresses), options.interleave);
    auto racing = race(std::move(addresses), options, std::move(what));
    co_return co_await std::move(racing);
}

task<tcp_stream> open_tcp_connection(std::string host, std::uint16_t port,
                                     happy_eyeballs_options options) {
    resolve_options ro;
    ro.family = options.family;
    ro.type = SOCK_STREAM;
    auto resolving = resolve(host, port, ro);
    std::vector<endpoint> addresses = co_await std::move(resolving);
    std::string what = "connect to " + host + ":" + std::to_string(port);
    addresses = interleave_addresses(std::move(addresses), options.interleave);
    auto racing = race(std::move(addresses), options, std::move(what));
    co_return co_await std::move(racing);
}

} // namespace corio::net

#include "corio/tls/start_tls.hpp"

#include "corio/core/timeout_error.hpp"
#include "corio/time/timeout.hpp"
#include "corio/tls/tls_error.hpp"

#include "io/stream_state.hpp"
#include "tls/tls_transport.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace corio::tls {

task<streams> start_tls(streams s, context ctx, start_tls_options options) {
    corio::detail::stream_state* st = s.writer.state();
    if (!st || s.reader.state() != st)
        throw std::invalid_argument(
            "corio::tls::start_tls: needs the reader and writer of one connection");
    if (!ctx)
        throw std::invalid_argument("corio::tls::start_tls: an empty context");
    const bool server_side = ctx.is_server();
    const std::string name = options.server_hostname.value_or(std::string());
    {
        // Bytes written before the upgrade (a STARTTLS reply) go out in the clear first: a
        // transport that queues its sends may still hold some.
        corio::detail::stream_write_waiter sent(st, corio::detail::write_wait::flushed);
        co_await sent;
    }
    auto made = std::make_unique<detail::tls_transport>(ctx, server_side, name, options.alpn);
    detail::tls_transport* t = made.get();
    st->layer_transport([&](std::unique_ptr<transport>& lower) -> std::unique_ptr<transport> {
        made->set_lower(std::move(lower));
        return std::move(made);
    });

    // The handshake; any failure closes the connection (the streams are the caller's, who may
    // hold copies: they see a closed stream).
    bool timed_out = false;
    try {
        task<void> hs = t->handshake();
        if (options.handshake_timeout > std::chrono::milliseconds::zero()) {
            task<void> guarded = corio::timeout(options.handshake_timeout, std::move(hs));
            co_await guarded;
        } else {
            co_await hs;
        }
    } catch (const timeout_error&) {
        timed_out = true;
    } catch (...) {
        s.writer.close();
        throw;
    }
    if (timed_out) {
        s.writer.close();
        const auto ms = options.handshake_timeout.count();
        const std::string what =
            "corio::tls: handshake timed out after " +
            (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms");
        throw timeout_error(what.c_str());
    }
    co_return std::move(s);
}

} // namespace corio::tls

#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/io/transport.hpp"
#include "corio/tls/context.hpp"
#include "corio/tls/session_info.hpp"

#include <openssl/ssl.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace corio::tls::detail {

/// TLS over any corio transport (the "lower" one: a socket, a Unix socket, another TLS
/// transport...), with OpenSSL working on a BIO pair in memory: this class moves ciphertext
/// between the pair and the lower transport with its non-blocking try_read/try_write, and arms
/// the lower transport's waits when OpenSSL needs more. Readiness-based, as every transport.
///
/// Directions cross: a TLS read may need the lower transport writable (a key update or a
/// renegotiation to answer, with the output full) and a TLS write may need it readable (a
/// TLS 1.2 renegotiation in progress). Each direction remembers what it waits for (m_read_need,
/// m_write_need) and the lower waits armed are the union of what the handshake, the stream's
/// read wait, the stream's write wait and the flushing of pending output need.
///
/// Writes keep the transport contract "bytes accepted are in the lower transport": plaintext
/// is encrypted into the output half of the pair and counted as written only once its records
/// have all gone into the lower transport; until then try_write reports would_block and the
/// stream retries with the same bytes (which OpenSSL requires anyway). So close() has nothing
/// of the application's to flush, only close_notify (sent if the lower transport takes it
/// now: a peer that never reads cannot hold a close).
///
/// Memory: the BIO pair's two buffers (32 KiB in, 64 KiB out) and OpenSSL's own record
/// buffers, per connection; nothing is allocated per read or write.
class tls_transport final : public transport, public transport_events {
  public:
    /// A transport for `ctx`; `server_side` picks the role. For a client, `server_name` is sent
    /// as SNI (unless it is an IP address) and, with ctx's verification and hostname check on,
    /// the certificate must match it. `alpn` (when set) replaces ctx's ALPN list.
    /// Errors: tls_error; std::bad_alloc.
    tls_transport(context ctx, bool server_side, const std::string& server_name,
                  const std::optional<std::vector<std::string>>& alpn);
    ~tls_transport() override;

    /// Takes the lower transport (once, before anything else).
    void set_lower(std::unique_ptr<transport> lower) noexcept;

    /// Runs the handshake, suspending the calling task while the lower transport is not
    /// ready. Cancellation: the wait is withdrawn (the connection is left half-shaken: close it).
    /// Errors: tls_error (verification, alerts, the peer closing); std::system_error from the
    /// lower transport.
    task<void> handshake();

    [[nodiscard]] session_info info() const;

    // transport
    std::int64_t try_read(std::span<std::byte> buf) override;
    std::int64_t try_write(std::span<const std::byte> buf) override;
    void wait_readable() override;
    void wait_writable() override;
    void cancel_wait_readable() noexcept override;
    void cancel_wait_writable() noexcept override;
    void close() noexcept override;
    void abort() noexcept override;
    [[nodiscard]] net::socket* socket() noexcept override;
    [[nodiscard]] net::socket_address local_address() const override;
    [[nodiscard]] net::socket_address peer_address() const override;

    // transport_events (from the lower transport)
    void on_readable() noexcept override;
    void on_writable() noexcept override;

  private:
    /// What a direction (or the handshake) waits for.
    enum class need : std::uint8_t { ready, lower_read, lower_write };
    /// What a handshake step ended with.
    enum class step : std::uint8_t { done, want_read, want_write };

    /// The handshake's wait for the lower transport, in the awaiting frame.
    class lower_wait : public corio::detail::wait_node {
      public:
        lower_wait(tls_transport& t, need n) noexcept : m_t(t), m_need(n) { m_kind = &s_kind; }
        lower_wait(const lower_wait&) = delete;
        lower_wait& operator=(const lower_wait&) = delete;
        ~lower_wait();
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h);
        void await_resume() { m_task->throw_if_cancelled(); }

      private:
        friend class tls_transport;
        static void on_cancel(corio::detail::wait_node* w, corio::detail::task_header& t) noexcept;
        static constexpr corio::detail::wait_kind s_kind{&on_cancel, "tls handshake"};
        tls_transport& m_t;
        need m_need;
        corio::detail::task_header* m_task = nullptr;
    };

    step handshake_step();
    /// Moves ciphertext from the pair to the lower transport until it would block.
    void pump_out();
    /// Moves ciphertext from the lower transport into the pair: bytes moved, 0 at the end of
    /// the lower stream, or would_block.
    std::int64_t pump_in();
    [[nodiscard]] bool out_pending() const noexcept;
    /// Arms or withdraws the lower waits to match what is needed now.
    void update_waits();
    void update_waits_noexcept() noexcept;
    /// The lower transport failed (or a TLS error outside a call): remembered for the next call.
    void set_error(std::exception_ptr e) noexcept;
    [[noreturn]] void fail(std::exception_ptr e);
    void dispatch(need ready) noexcept;
    void report_soon(bool read, bool write);
    void shut(bool abort) noexcept;

    context m_ctx;
    SSL* m_ssl = nullptr;
    BIO* m_net = nullptr; ///< our half of the pair (the SSL object owns the other)
    BIO* m_int = nullptr; ///< the SSL object's half
    std::unique_ptr<transport> m_lower;
    std::exception_ptr m_error;
    lower_wait* m_hs = nullptr; ///< the handshake step waiting, if any
    callback_handle m_report;   ///< a wait armed while its answer was already here
    /// Plaintext bytes encrypted into the pair but not yet reported written (their records are
    /// not all in the lower transport).
    std::size_t m_unreported = 0;
    need m_read_need = need::lower_read;
    need m_write_need = need::lower_write;
    bool m_want_read = false;  ///< the stream's read wait is armed
    bool m_want_write = false; ///< the stream's write wait is armed
    bool m_report_read = false;
    bool m_report_write = false;
    bool m_report_scheduled = false;
    bool m_lower_read_armed = false;
    bool m_lower_write_armed = false;
    bool m_lower_eof = false;
    bool m_handshaken = false;
    bool m_read_closed = false; ///< the peer's close_notify was read
    bool m_closed = false;
};

} // namespace corio::tls::detail

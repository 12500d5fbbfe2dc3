#pragma once

#include "corio/runtime/detail/remote_queue.hpp"

#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace corio {

/// A thread-safe reference to an event loop: the one way to reach a loop from another thread.
/// Copyable; it stays safe to use after the loop has closed (calls then throw).
class loop_handle {
  public:
    loop_handle() noexcept = default;
    explicit loop_handle(std::shared_ptr<detail::remote_queue> q) noexcept : m_q(std::move(q)) {}

    /// Schedules `f()` to run on the loop's thread, and wakes the loop if it sleeps (asyncio's
    /// call_soon_threadsafe). Calls posted from one thread run in the order they were posted.
    /// An exception escaping `f` goes to the loop's exception handler.
    ///
    /// Errors: std::runtime_error if the loop has closed (`f` is then destroyed unrun);
    /// std::bad_alloc.
    template <typename F>
    void call_soon_threadsafe(F&& f) const {
        std::unique_ptr<detail::remote_call> c =
            std::make_unique<detail::remote_call_impl<std::decay_t<F>>>(std::forward<F>(f));
        if (!m_q || !m_q->post(c))
            throw std::runtime_error("corio: call_soon_threadsafe on a closed event loop");
    }

    /// True once the loop has closed (or for a default-constructed handle).
    [[nodiscard]] bool is_closed() const noexcept { return !m_q || m_q->closed(); }

  private:
    std::shared_ptr<detail::remote_queue> m_q;
};

} // namespace corio

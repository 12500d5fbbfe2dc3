#pragma once

#include "corio/core/cancelled_error.hpp"

#include <exception>
#include <functional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace corio {

/// The outcome of a task as gather(return_exceptions, ...) reports it: a value, or the exception
/// the task ended with (asyncio puts the exception object itself in the result list).
template <typename T>
class outcome {
    using stored = std::conditional_t<
        std::is_void_v<T>, std::monostate,
        std::conditional_t<std::is_reference_v<T>,
                           std::reference_wrapper<std::remove_reference_t<T>>, T>>;

  public:
    /// A failed outcome. Precondition: `e` is not null.
    explicit outcome(std::exception_ptr e) noexcept : m_v(std::in_place_index<1>, std::move(e)) {}
    /// A successful outcome.
    template <typename... Args>
    explicit outcome(std::in_place_t, Args&&... args)
        : m_v(std::in_place_index<0>, std::forward<Args>(args)...) {}

    /// True if the task produced a value.
    [[nodiscard]] bool has_value() const noexcept { return m_v.index() == 0; }
    [[nodiscard]] explicit operator bool() const noexcept { return has_value(); }

    /// The value. Errors: rethrows the task's exception if it failed.
    decltype(auto) value() & {
        if (!has_value())
            std::rethrow_exception(std::get<1>(m_v));
        if constexpr (std::is_void_v<T>)
            return;
        else if constexpr (std::is_reference_v<T>)
            return std::get<0>(m_v).get();
        else
            return std::get<0>(m_v);
    }
    decltype(auto) value() && {
        if (!has_value())
            std::rethrow_exception(std::get<1>(m_v));
        if constexpr (std::is_void_v<T>)
            return;
        else if constexpr (std::is_reference_v<T>)
            return std::get<0>(m_v).get();
        else
            return T(std::move(std::get<0>(m_v)));
    }

    /// The exception, or null if the task succeeded.
    [[nodiscard]] std::exception_ptr exception() const noexcept {
        return has_value() ? nullptr : std::get<1>(m_v);
    }
    /// True if the task ended by cancellation.
    [[nodiscard]] bool cancelled() const noexcept {
        if (has_value())
            return false;
        try {
            std::rethrow_exception(std::get<1>(m_v));
        } catch (const cancelled_error&) {
            return true;
        } catch (...) {
            return false;
        }
    }

  private:
    std::variant<stored, std::exception_ptr> m_v;
};

} // namespace corio

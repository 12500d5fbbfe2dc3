#pragma once

#include "corio/core/cancelled_error.hpp"
#include "corio/core/detail/child_watch.hpp"
#include "corio/core/outcome.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"

#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace corio {

/// Tag for gather: collect every outcome instead of failing on the first exception.
struct return_exceptions_t {
    explicit return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

/// What gather puts in its result for a task of type T: void becomes std::monostate.
template <typename T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Parks the awaiting task until every child has finished.
///
/// Without return_exceptions, the first child to fail makes the others be cancelled, and the
/// wait still lasts until all have finished: a child may borrow from the caller's frame, so
/// gather never returns while one still runs. Cancelling the awaiting task cancels every child,
/// waits for them, then throws cancelled_error.
class gather_waiter final : child_watch, wait_node {
  public:
    gather_waiter(std::vector<task_header*> children, bool return_exceptions)
        : child_watch(children.size()), m_children(std::move(children)),
          m_remaining(m_children.size()), m_return_exceptions(return_exceptions) {
        m_kind = &s_wait_kind;
    }

    bool await_ready() noexcept {
        if (!m_watching) {
            m_watching = true;
            for (std::size_t i = 0; i < m_children.size(); ++i)
                watch(i, *m_children[i]);
        }
        return m_remaining == 0;
    }
    bool await_suspend(std::coroutine_handle<> h) {
        m_waiter = &this_task("gather");
        if (m_waiter->m_must_cancel) {
            m_waiter->m_must_cancel = false;
            m_outer_cancelled = true;
            cancel_children();
            if (m_remaining == 0)
                return false;
        }
        m_waiter->suspend(*this, h);
        return true;
    }
    void await_resume() {
        if (m_outer_cancelled) {
            report_failures(nullptr);
            throw cancelled_error();
        }
        if (m_waiter)
            m_waiter->throw_if_cancelled();
        if (m_first_failure && !m_return_exceptions) {
            report_failures(m_first_failure);
            std::rethrow_exception(m_first_failure->m_exception);
        }
    }

  private:
    void on_child_done(std::size_t, task_header& t) override {
        if (t.m_exception && !m_first_failure && !m_return_exceptions) {
            m_first_failure = &t;
            cancel_children();
        }
        if (--m_remaining == 0 && m_waiter)
            m_waiter->wake();
    }
    static void on_cancel(wait_node* w, task_header&) {
        auto* self = static_cast<gather_waiter*>(w);
        self->m_outer_cancelled = true;
        self->cancel_children();
        // The waiter wakes when the last child has finished.
    }
    /// Cancels the children once: a child that finishes by that cancellation (or a second
    /// request to the waiter) must not cancel its siblings again, which would interrupt the
    /// cleanup they are running in their cancellation handlers.
    void cancel_children() noexcept {
        if (m_children_cancelled)
            return;
        m_children_cancelled = true;
        for (task_header* c : m_children)
            c->cancel();
    }
    /// Every child failure but `except` goes to the exception handler: gather propagates one
    /// exception, and none may be lost. Cancellations are not failures here.
    void report_failures(task_header* except) noexcept {
        for (task_header* c : m_children) {
            c->m_retrieved = true;
            if (c == except || !c->m_exception || c->m_cancelled)
                continue;
            c->m_sched->call_exception_handler(exception_context{
                "gather: another child failed as well", c->m_exception, scheduler::task_name(*c)});
        }
    }

    std::vector<task_header*> m_children;
    std::size_t m_remaining;
    task_header* m_waiter = nullptr;
    task_header* m_first_failure = nullptr;
    bool m_return_exceptions;
    bool m_outer_cancelled = false;
    bool m_children_cancelled = false;
    bool m_watching = false;
    static constexpr wait_kind s_wait_kind{&on_cancel, "gather"};
};

template <typename T>
gather_value_t<T> take_value(task_handle<T>& h) {
    if constexpr (std::is_void_v<T>) {
        h.promise().take_result();
        return std::monostate{};
    } else {
        return take_handle_result(h);
    }
}

template <typename T>
outcome<T> take_outcome(task_handle<T>& h) {
    auto& p = h.promise();
    if (p.m_exception) {
        p.m_retrieved = true;
        return outcome<T>(p.m_exception);
    }
    if constexpr (std::is_void_v<T>) {
        p.take_result();
        return outcome<T>(std::in_place);
    } else {
        return outcome<T>(std::in_place, take_handle_result(h));
    }
}

/// What gather returns for one child: its value, or with return_exceptions its outcome.
template <bool ReturnExceptions, typename T>
using gather_element_t = std::conditional_t<ReturnExceptions, outcome<T>, gather_value_t<T>>;

template <bool ReturnExceptions, typename T>
gather_element_t<ReturnExceptions, T> take_element(task_handle<T>& h) {
    if constexpr (ReturnExceptions)
        return take_outcome(h);
    else
        return take_value(h);
}

template <bool ReturnExceptions, typename... Ts>
task<std::tuple<gather_element_t<ReturnExceptions, Ts>...>> gather_handles(task_handle<Ts>... hs) {
    {
        gather_waiter w({hs.get()...}, ReturnExceptions);
        co_await w;
    }
    co_return std::tuple<gather_element_t<ReturnExceptions, Ts>...>(
        take_element<ReturnExceptions>(hs)...);
}

template <bool ReturnExceptions, typename A>
task<std::vector<gather_element_t<ReturnExceptions, awaited_t<A>>>>
gather_range(std::vector<A> items) {
    using T = awaited_t<A>;
    std::vector<task_handle<T>> hs;
    hs.reserve(items.size());
    for (A& a : items)
        hs.push_back(as_handle(std::move(a)));
    items.clear();
    {
        gather_waiter w(headers_of(hs), ReturnExceptions);
        co_await w;
    }
    std::vector<gather_element_t<ReturnExceptions, T>> out;
    out.reserve(hs.size());
    for (auto& h : hs)
        out.push_back(take_element<ReturnExceptions>(h));
    co_return out;
}

} // namespace detail

/// Runs the tasks concurrently and returns their results as a tuple, in argument order
/// (asyncio's gather). Each argument is a task<T> (scheduled here, when gather starts) or a
/// task_handle<T>; a void task contributes std::monostate.
///
/// Errors: the first exception a child ends with. The other children are then cancelled, and
/// gather returns only once all have finished (unlike asyncio, which leaves them running:
/// C++ children often borrow from the caller's frame). Their own failures go to the loop's
/// exception handler, so none is lost.
///
/// Cancellation: cancelling the awaiting task cancels every child; gather waits for them and
/// then throws cancelled_error.
///
/// Example: `auto [a, b] = co_await corio::gather(fetch(1), fetch(2));`
template <typename... As>
requires(sizeof...(As) >
         0) task<std::tuple<detail::gather_value_t<detail::awaited_t<As>>...>> gather(As&&... as) {
    // Arguments are turned into handles before the coroutine starts, in order, so every child is
    // scheduled even if creating a later one fails.
    return detail::gather_handles<false>(detail::as_handle(std::forward<As>(as))...);
}

/// Like gather, but never throws for a child: each result is an outcome holding the value or
/// the exception (asyncio's return_exceptions=True). Cancelling the awaiting task still cancels
/// the children and throws cancelled_error.
template <typename... As>
requires(sizeof...(As) >
         0) task<std::tuple<outcome<detail::awaited_t<As>>...>> gather(return_exceptions_t,
                                                                       As&&... as) {
    return detail::gather_handles<true>(detail::as_handle(std::forward<As>(as))...);
}

/// gather over a range: a vector of tasks (or handles) of one type, results in the same order.
template <typename A>
task<std::vector<detail::gather_value_t<detail::awaited_t<A>>>> gather(std::vector<A> items) {
    return detail::gather_range<false>(std::move(items));
}

/// gather over a range with return_exceptions: one outcome per item, in order.
template <typename A>
task<std::vector<outcome<detail::awaited_t<A>>>> gather(return_exceptions_t, std::vector<A> items) {
    return detail::gather_range<true>(std::move(items));
}

} // namespace corio

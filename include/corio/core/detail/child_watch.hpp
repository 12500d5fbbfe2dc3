#pragma once

#include "corio/core/create_task.hpp"
#include "corio/core/detail/task_header.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::detail {

/// Observes the completion of a fixed set of tasks through one done_link each: the engine of
/// gather, wait and as_completed. The links are unlinked when the watch is destroyed, so a
/// waiter that gives up (cancelled, timed out) leaves nothing behind in the children.
class child_watch {
  public:
    explicit child_watch(std::size_t n) : m_links(n) {}
    child_watch(const child_watch&) = delete;
    child_watch& operator=(const child_watch&) = delete;
    virtual ~child_watch() { unwatch_all(); }

    /// Starts observing `t` as child number `i`; a task already done is reported at once.
    void watch(std::size_t i, task_header& t) {
        link& l = m_links[i];
        l.owner = this;
        l.index = i;
        l.task = &t;
        l.m_on_done = &on_done_thunk;
        if (t.m_state == task_state::done)
            on_child_done(i, t);
        else
            t.add_done_link(l);
    }
    void unwatch_all() noexcept {
        for (link& l : m_links)
            if (l.m_linked)
                l.task->remove_done_link(l);
    }

  protected:
    /// Called on the loop thread when child `i` finishes.
    virtual void on_child_done(std::size_t i, task_header& t) = 0;

  private:
    struct link : done_link {
        child_watch* owner = nullptr;
        task_header* task = nullptr;
        std::size_t index = 0;
    };
    static void on_done_thunk(done_link* l, task_header& t) {
        auto* self = static_cast<link*>(l);
        self->owner->on_child_done(self->index, t);
    }

    std::vector<link> m_links;
};

/// Turns what gather accepts into a handle: a task is scheduled, a handle is taken as is.
template <typename T>
task_handle<T> as_handle(task<T>&& t) {
    return create_task(std::move(t));
}
template <typename T>
task_handle<T> as_handle(task_handle<T> h) noexcept {
    return h;
}

/// The result of the finished task behind `h`, for one awaiter among possibly several: copied
/// when another handle shares the task (the caller passed a handle it keeps, and a handle may be
/// awaited several times), moved out otherwise. A move-only result is always moved out.
/// Errors: the task's exception; cancelled_error.
template <typename T>
T take_handle_result(task_handle<T>& h) {
    if constexpr (!std::is_void_v<T> && !std::is_reference_v<T> &&
                  std::is_copy_constructible_v<T>) {
        if (h.get()->m_refs > 1)
            return h.promise().result_ref();
    }
    return h.promise().take_result();
}

/// The task headers behind a vector of task_handle<T> or task_ref.
template <typename H>
std::vector<task_header*> headers_of(const std::vector<H>& hs) {
    std::vector<task_header*> out;
    out.reserve(hs.size());
    for (const H& h : hs)
        out.push_back(h.get());
    return out;
}

template <typename A>
inline constexpr bool is_task_handle_v = false;
template <typename T>
inline constexpr bool is_task_handle_v<task_handle<T>> = true;

template <typename A>
struct awaited_type;
template <typename T>
struct awaited_type<task<T>> {
    using type = T;
};
template <typename T>
struct awaited_type<task_handle<T>> {
    using type = T;
};
/// The result type of a task or handle, with cv-ref stripped from the awaitable.
template <typename A>
using awaited_t = typename awaited_type<std::remove_cvref_t<A>>::type;

} // namespace corio::detail

#include "corio/core/detail/task_header.hpp"

#include "corio/core/cancelled_error.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"

#include <cassert>
#include <cstring>
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#endif
#include <stdexcept>
#include <string>
#include <typeinfo>

namespace corio::detail {

void task_header::suspend(wait_node& w, std::coroutine_handle<> h) noexcept {
    assert(m_state == task_state::running);
    m_state = task_state::suspended;
    m_wait = &w;
    m_resume = h;
    if (task_observer* o = m_sched->observer())
        o->on_suspend(*this, w.m_kind->what);
}

void task_header::wake() noexcept {
    assert(m_state == task_state::suspended);
    m_state = task_state::scheduled;
    m_wait = nullptr;
    m_sched->schedule(*this);
    if (task_observer* o = m_sched->observer())
        o->on_wake(*this);
}

void task_header::deliver_cancel() {
    m_must_cancel = false;
    throw cancelled_error();
}

bool task_header::cancel() noexcept {
    if (m_state == task_state::done)
        return false;
    ++m_cancel_requests;
    if (m_state == task_state::suspended) {
        // The wait node decides: withdraw and wake now, wake once the operation has let go of
        // the frame, or pass the request on to an awaited task.
        m_wait->m_kind->cancel(m_wait, *this);
        return true;
    }
    m_must_cancel = true;
    return true;
}

void task_header::set_name(std::string_view name) {
    char* copy = nullptr;
    if (!name.empty()) {
        copy = new char[name.size() + 1];
        std::memcpy(copy, name.data(), name.size());
        copy[name.size()] = '\0';
    }
    delete[] m_name;
    m_name = copy;
}

void task_header::add_done_link(done_link& l) noexcept {
    assert(!l.m_linked);
    if (m_done_head) {
        done_link* tail = m_done_head->m_prev;
        l.m_prev = tail;
        l.m_next = m_done_head;
        tail->m_next = &l;
        m_done_head->m_prev = &l;
    } else {
        l.m_prev = l.m_next = &l;
        m_done_head = &l;
    }
    l.m_linked = true;
}

void task_header::remove_done_link(done_link& l) noexcept {
    if (!l.m_linked)
        return;
    if (l.m_next == &l) {
        m_done_head = nullptr;
    } else {
        l.m_prev->m_next = l.m_next;
        l.m_next->m_prev = l.m_prev;
        if (m_done_head == &l)
            m_done_head = l.m_next;
    }
    l.m_prev = l.m_next = nullptr;
    l.m_linked = false;
}

void task_header::release() noexcept {
    assert(m_refs > 0);
    if (--m_refs != 0)
        return;
    if (m_state == task_state::done && m_exception && !m_retrieved && !m_cancelled && m_sched) {
        m_sched->call_exception_handler(exception_context{
            "Task exception was never retrieved", m_exception, scheduler::task_name(*this)});
    }
    delete[] m_name;
    m_name = nullptr;
    // The header lives in the frame's promise: nothing of *this may be touched after this.
    m_frame.destroy();
}

void throw_no_task(const char* what) {
    throw std::logic_error(std::string("corio: ") + what +
                           " is only possible inside a task run by an event loop");
}

void promise_base::unhandled_exception() noexcept {
    m_exception = std::current_exception();
#if __has_include(<cxxabi.h>)
    // cancelled_error is final, so its exact type identifies it; this spares the rethrow that
    // a catch clause would cost (about a microsecond per cancelled task).
    const std::type_info* type = abi::__cxa_current_exception_type();
    m_cancelled = type && *type == typeid(cancelled_error);
#else
    try {
        throw;
    } catch (const cancelled_error&) {
        m_cancelled = true;
    } catch (...) {
        m_cancelled = false;
    }
#endif
}

void promise_base::finish_root() noexcept {
    m_sched->finish_task(*this);
}

} // namespace corio::detail

#include "corio/core/task_handle.hpp"

#include "corio/core/scheduler.hpp"

#include <stdexcept>

namespace corio {

std::exception_ptr task_ref::exception() const {
    detail::task_header& t = header();
    if (t.m_state != detail::task_state::done)
        throw std::logic_error("corio::task_ref::exception: the task is not done");
    t.m_retrieved = true;
    return t.m_exception;
}

std::string task_ref::name() const {
    return scheduler::task_name(header());
}

void task_ref::set_name(std::string_view name) const {
    header().set_name(name);
}

} // namespace corio

#include "corio/core/task_group.hpp"

#include <string>

namespace corio {

const detail::wait_kind task_group::s_join_kind{&task_group::on_join_cancel, "task_group"};

task_group::~task_group() {
    if (m_pending == 0)
        return;
    // Children outlive the group: cancel them and say so, since their owner cannot wait.
    abort();
    for (auto& c : m_children) {
        if (c->m_linked)
            c->task.get()->remove_done_link(*c);
    }
    if (scheduler* s = scheduler::current())
        s->call_exception_handler(exception_context{"task_group destroyed without join(); " +
                                                        std::to_string(m_pending) +
                                                        " unfinished children were cancelled",
                                                    nullptr,
                                                    {}});
}

void task_group::adopt(std::unique_ptr<child_link> l, const task_ref& t) {
    l->group = this;
    l->task = t;
    l->m_on_done = &on_child_done;
    t.get()->add_done_link(*l);
    ++m_pending;
    m_children.push_back(std::move(l));
}

void task_group::on_child_done(detail::done_link* l, detail::task_header& t) {
    task_group& g = *static_cast<child_link*>(l)->group;
    --g.m_pending;
    if (t.m_exception && !t.m_cancelled) {
        t.m_retrieved = true;
        if (!g.m_first_failure) {
            g.m_first_failure = t.m_exception;
            g.abort();
        } else {
            t.m_sched->call_exception_handler(
                exception_context{"task_group: another child failed as well", t.m_exception,
                                  scheduler::task_name(t)});
        }
    }
    if (g.m_pending == 0 && g.m_joiner)
        std::exchange(g.m_joiner, nullptr)->wake();
}

void task_group::abort() noexcept {
    // Children are cancelled once (asyncio's TaskGroup checks _aborting too): a second request,
    // such as the joiner being cancelled after a child failed, would interrupt the cleanup the
    // children are running in their cancellation handlers. No child is created while aborting.
    if (m_aborting)
        return;
    m_aborting = true;
    for (auto& c : m_children)
        if (!c->task.done())
            c->task.cancel();
}

bool task_group::suspend_join(std::coroutine_handle<> h) {
    detail::task_header& me = detail::this_task("task_group::join");
    if (me.m_must_cancel) {
        // A cancellation that was waiting for a suspension point: the group shuts down.
        me.m_must_cancel = false;
        m_joiner_cancelled = true;
        abort();
        if (m_pending == 0)
            return false;
    }
    m_join_node.group = this;
    m_join_node.m_kind = &s_join_kind;
    m_joiner = &me;
    me.suspend(m_join_node, h);
    return true;
}

void task_group::on_join_cancel(detail::wait_node* w, detail::task_header&) {
    task_group& g = *static_cast<join_node*>(w)->group;
    g.m_joiner_cancelled = true;
    g.abort();
    // The joiner wakes when the last child has finished.
}

void task_group::finish_join() {
    m_joined = true;
    m_joiner = nullptr;
    if (m_first_failure)
        std::rethrow_exception(m_first_failure);
    if (m_joiner_cancelled)
        throw cancelled_error();
}

} // namespace corio

#pragma once

#include <utility>

namespace corio::detail {

/// A counted reference to a stream_state or server_state (T::add_ref / T::release), for
/// coroutine parameters: a parameter is destroyed with its frame, so a task that is destroyed
/// before it ever ran (a loop closed first) still drops its reference.
template <typename T>
class counted_ref {
  public:
    counted_ref() noexcept = default;
    /// Takes a new reference.
    explicit counted_ref(T* p) noexcept : m_p(p) {
        if (m_p)
            m_p->add_ref();
    }
    /// Takes over a reference the caller already counted.
    static counted_ref adopt(T* p) noexcept {
        counted_ref r;
        r.m_p = p;
        return r;
    }
    counted_ref(counted_ref&& o) noexcept : m_p(std::exchange(o.m_p, nullptr)) {}
    counted_ref& operator=(counted_ref&& o) noexcept {
        std::swap(m_p, o.m_p);
        return *this;
    }
    counted_ref(const counted_ref&) = delete;
    counted_ref& operator=(const counted_ref&) = delete;
    ~counted_ref() {
        if (m_p)
            m_p->release();
    }

    T* get() const noexcept { return m_p; }
    T* operator->() const noexcept { return m_p; }
    T& operator*() const noexcept { return *m_p; }

  private:
    T* m_p = nullptr;
};

} // namespace corio::detail

#include "corio/sync/lock.hpp"

#include <stdexcept>

namespace corio {

void lock::throw_not_locked() {
    throw std::runtime_error("corio::lock::release: the lock is not locked");
}

void lock::guard::release() {
    if (!m_lock)
        throw std::logic_error("corio::lock::guard::release: the guard does not hold a lock");
    reset();
}

} // namespace corio

#include "corio/sync/lock.hpp"

#include <stdexcept>

namespace corio {

void lock::throw_not_locked() {
    throw std::runtime_error("corio::lock::release: the lock is not locked");
}

void lock::throw_empty_guard() {
    throw std::logic_error("corio::lock::guard::release: the guard does not hold a lock");
}

} // namespace corio

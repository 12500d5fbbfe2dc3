#include "corio/sync/semaphore.hpp"

#include <limits>
#include <stdexcept>

namespace corio {

void semaphore::throw_negative() {
    throw std::invalid_argument("corio::semaphore: the initial value must not be negative");
}

void semaphore::throw_released_too_often() const {
    if (m_bound == std::numeric_limits<std::ptrdiff_t>::max())
        throw std::logic_error("corio::semaphore::release: the value would overflow");
    throw std::logic_error("corio::bounded_semaphore::release: released too many times");
}

void semaphore::throw_empty_guard() {
    throw std::logic_error("corio::semaphore::guard::release: the guard holds no unit");
}

} // namespace corio

#include "corio/sync/condition.hpp"

#include <stdexcept>
#include <string>

namespace corio {

void condition::throw_not_locked(const char* what) {
    throw std::runtime_error(std::string("corio::condition::") + what +
                             ": the lock is not held (acquire it first)");
}

} // namespace corio

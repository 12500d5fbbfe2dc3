#pragma once

// An environment variable set for the lifetime of an object (CORIO_BACKEND, CORIO_EPOLL_MODE...).

#include <stdlib.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace corio::test {

/// Sets (or, with a null value, unsets) an environment variable, and restores its previous
/// state when destroyed. Not thread-safe: tests that use it must not start threads that read
/// the environment meanwhile.
class scoped_env {
  public:
    scoped_env(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name))
            m_old = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;
    ~scoped_env() {
        if (m_old)
            ::setenv(m_name, m_old->c_str(), 1);
        else
            ::unsetenv(m_name);
    }

  private:
    const char* m_name;
    std::optional<std::string> m_old;
};

} // namespace corio::test

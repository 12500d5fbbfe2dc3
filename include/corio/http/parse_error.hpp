#pragma once
#include <stdexcept>
#include <string>

namespace corio::http {

/// A message the HTTP parser refuses. status() is the response a server sends for it (400, 413,
/// 431, 501, 505) or 502 for a malformed response; what() names the problem, e.g.
/// "corio::http: Content-Length together with Transfer-Encoding".
class parse_error : public std::runtime_error {
  public:
    parse_error(int status, const std::string& what) : std::runtime_error(what), m_status(status) {}
    [[nodiscard]] int status() const noexcept { return m_status; }

  private:
    int m_status;
};

} // namespace corio::http

#pragma once
#include <stdexcept>
#include <string>

namespace corio::http {

/// What client_response::raise_for_status() throws for a 4xx or 5xx response (requests'
/// HTTPError): what() names the status, the reason and the URL, e.g.
/// "corio::http: 404 Not Found for http://example.com/missing".
class status_error : public std::runtime_error {
  public:
    status_error(int status, const std::string& url, const std::string& what)
        : std::runtime_error(what), m_status(status), m_url(url) {}
    /// The response's status code.
    [[nodiscard]] int status() const noexcept { return m_status; }
    /// The URL of the response (after redirects).
    [[nodiscard]] const std::string& url() const noexcept { return m_url; }

  private:
    int m_status;
    std::string m_url;
};

} // namespace corio::http

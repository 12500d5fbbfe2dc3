#pragma once
#include <stdexcept>
#include <string>

namespace corio::http {

/// A redirect the client refuses to follow: more than request_options::max_redirects of them
/// ("corio::http: more than 10 redirects, the last to http://h/loop"), or a Location header that
/// is not a valid http(s) URL. url() is the URL of the last response that redirected.
class redirect_error : public std::runtime_error {
  public:
    redirect_error(const std::string& url, const std::string& what)
        : std::runtime_error(what), m_url(url) {}
    [[nodiscard]] const std::string& url() const noexcept { return m_url; }

  private:
    std::string m_url;
};

} // namespace corio::http

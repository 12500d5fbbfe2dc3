#include "corio/tls/session_info.hpp"

#include "corio/io/streams.hpp"

#include "tls/tls_transport.hpp"

#include <stdexcept>

namespace corio::tls {

session_info get_session_info(const stream_writer& writer) {
    if (!writer)
        throw std::invalid_argument("corio::tls::get_session_info: an empty stream");
    auto* t = dynamic_cast<const detail::tls_transport*>(&writer.transport());
    if (!t)
        throw std::invalid_argument("corio::tls::get_session_info: not a TLS stream");
    return t->info();
}

session_info get_session_info(const streams& s) {
    return get_session_info(s.writer);
}

} // namespace corio::tls

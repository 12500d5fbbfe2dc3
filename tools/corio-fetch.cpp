// corio-fetch: fetches many URLs concurrently with corio's HTTP client, at most N at once, and
// prints one line per URL (status, bytes, time, final URL after redirects, or the error).
//
//   corio-fetch URL... [--concurrency N] [--headers-to FILE] [--output DIR] [--timeout S]
//               [--cacert FILE]
//
// On a terminal a progress line is kept up to date under the results ("[12/40] 3 in flight,
// 1.2 MB"). --headers-to writes each response's headers as the seed's example does (§1.4:
// "key: value" lines), one block per URL in command-line order; --output saves each body in DIR
// under a name taken from the URL's path. The exit status is 0 when every URL gave a 2xx or 3xx
// response, 1 when one failed (an error or a 4xx/5xx status), 2 for bad arguments.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_group.hpp"
#include "corio/fs/file.hpp"
#include "corio/fs/files.hpp"
#include "corio/http/client.hpp"
#include "corio/runtime/run.hpp"
#include "corio/runtime/to_thread.hpp"
#include "corio/sync/semaphore.hpp"
#include "corio/tls/context.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
namespace http = corio::http;
namespace cfs = corio::fs;

struct options {
    std::vector<std::string> urls;
    std::size_t concurrency = 8;
    std::string headers_to;
    std::string output_dir;
    double timeout_s = 30;
    std::string cacert; // extra CA certificates (PEM) trusted for https, as curl's --cacert
};

void usage(std::FILE* to) {
    std::fprintf(
        to,
        "usage: corio-fetch URL... [--concurrency N] [--headers-to FILE] [--output DIR]\n"
        "                   [--timeout S] [--cacert FILE] [--help]\n"
        "Fetches the URLs concurrently over HTTP and HTTPS and prints one line per\n"
        "URL: status, bytes, time and the final URL after redirects, or the error.\n"
        "  --concurrency N    at most N requests at once (default 8)\n"
        "  --headers-to FILE  write every response's headers to FILE, one block per URL, in the\n"
        "                     seed's format (\"key: value\" lines)\n"
        "  --output DIR       save each body in DIR (created if missing), named after the URL's\n"
        "                     path (sanitized; \"-1\", \"-2\"... added to keep names unique)\n"
        "  --timeout S        the limit for each request, body included (default 30 s)\n"
        "  --cacert FILE      also trust the CA certificates in FILE (PEM) for https; the\n"
        "                     system's CA store is always trusted\n"
        "Exit status: 0 if every URL answered 2xx or 3xx, 1 if one failed (an error or a 4xx/5xx\n"
        "status), 2 for bad arguments.\n");
}

[[noreturn]] void bad_usage(const std::string& message) {
    std::fprintf(stderr, "corio-fetch: error: %s\n", message.c_str());
    std::fprintf(stderr, "Try 'corio-fetch --help'.\n");
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    bool only_urls = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (only_urls || !arg.starts_with("-") || arg == "-") {
            std::string u(arg);
            try {
                (void)http::url::parse(u);
            } catch (const std::invalid_argument& e) {
                bad_usage(e.what());
            }
            o.urls.push_back(std::move(u));
            continue;
        }
        if (arg == "--") {
            only_urls = true;
            continue;
        }
        std::string value;
        bool has_value = false;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            has_value = true;
            arg = arg.substr(0, eq);
        }
        auto take_value = [&] {
            if (has_value)
                return value;
            if (i + 1 >= argc)
                bad_usage(std::string(arg) + " needs a value");
            return std::string(argv[++i]);
        };
        if (arg == "--help" || arg == "-h") {
            usage(stdout);
            std::exit(0);
        } else if (arg == "--concurrency" || arg == "-c") {
            const std::string v = take_value();
            char* end = nullptr;
            errno = 0;
            const unsigned long n = std::strtoul(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || v[0] == '-' || errno != 0 || n < 1 || n > 10000)
                bad_usage("--concurrency wants a whole number from 1 to 10000, got '" + v + "'");
            o.concurrency = n;
        } else if (arg == "--headers-to") {
            o.headers_to = take_value();
            if (o.headers_to.empty())
                bad_usage("--headers-to wants a file path");
        } else if (arg == "--output" || arg == "-o") {
            o.output_dir = take_value();
            if (o.output_dir.empty())
                bad_usage("--output wants a directory");
        } else if (arg == "--timeout") {
            const std::string v = take_value();
            char* end = nullptr;
            const double s = std::strtod(v.c_str(), &end);
            if (v.empty() || *end != '\0' || !std::isfinite(s) || s <= 0 || s > 86400)
                bad_usage("--timeout wants seconds, more than 0 and at most 86400, got '" + v +
                          "'");
            o.timeout_s = s;
        } else if (arg == "--cacert") {
            o.cacert = take_value();
            if (o.cacert.empty())
                bad_usage("--cacert wants a file of PEM certificates");
        } else {
            bad_usage("unknown option '" + std::string(argv[i]) + "'");
        }
    }
    if (o.urls.empty())
        bad_usage("no URL given");
    return o;
}

std::string human_bytes(std::uint64_t n) {
    char buf[32];
    if (n < 1024)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else if (n < 1024 * 1024)
        std::snprintf(buf, sizeof buf, "%.1f KB", static_cast<double>(n) / 1024);
    else if (n < 1024ull * 1024 * 1024)
        std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(n) / (1024.0 * 1024));
    else
        std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(n) / (1024.0 * 1024 * 1024));
    return buf;
}

/// The seed's formatting (§1.4): f'{key}: {header}' for each header, joined by '\n'.
std::string format_headers(const http::headers& headers) {
    std::string out;
    for (const auto& [key, value] : headers) {
        if (!out.empty())
            out += '\n';
        out += key;
        out += ": ";
        out += value;
    }
    return out;
}

/// A file name for the body of `u`: the last segment of its path, with every byte outside
/// [A-Za-z0-9._-] replaced by '_', no leading dot, at most 100 bytes; "index.html" for a path
/// that ends in '/'.
std::string file_name_for(const http::url& u) {
    std::string_view path = u.path();
    const auto slash = path.rfind('/');
    std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    std::string name;
    for (const char c : last) {
        const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
        name += safe ? c : '_';
    }
    while (!name.empty() && name.front() == '.')
        name.erase(0, 1);
    if (name.size() > 100)
        name.resize(100);
    if (name.empty())
        name = "index.html";
    return name;
}

/// "name.ext" -> "name-<k>.ext" (k >= 1), to make a name unique.
std::string numbered(const std::string& name, int k) {
    if (k == 0)
        return name;
    const auto dot = name.rfind('.');
    const std::string suffix = "-" + std::to_string(k);
    if (dot == std::string::npos || dot == 0)
        return name + suffix;
    return name.substr(0, dot) + suffix + name.substr(dot);
}

struct result {
    std::string url;
    std::string final_url;
    int status = 0;
    std::string reason;
    std::uint64_t bytes = 0;
    double ms = 0;
    std::string error; // empty on success
    std::string headers_block;
    std::string saved_to;
    [[nodiscard]] bool failed() const { return !error.empty() || status >= 400; }
};

class fetcher {
  public:
    explicit fetcher(const options& o)
        : m_opt(o), m_limit(static_cast<std::ptrdiff_t>(o.concurrency)) {
        http::client_options co;
        // The semaphore bounds the requests; the pool must not hold them back below it.
        co.max_connections_per_host = o.concurrency;
        co.tls = corio::tls::context::client();
        if (!o.cacert.empty())
            co.tls.load_verify_file(o.cacert); // throws tls_error naming the file
        m_client = http::client(co);
        m_results.resize(o.urls.size());
        m_tty = ::isatty(STDOUT_FILENO) == 1;
    }

    corio::task<int> run() {
        if (!m_opt.output_dir.empty()) {
            const std::string dir = m_opt.output_dir;
            auto make_dir = [dir] { std::filesystem::create_directories(dir); };
            auto made = corio::to_thread(make_dir);
            try {
                co_await made;
            } catch (const std::filesystem::filesystem_error& e) {
                std::fprintf(stderr, "corio-fetch: cannot create the output directory '%s': %s\n",
                             dir.c_str(), e.code().message().c_str());
                co_return 1;
            }
        }
        const auto start = clock_type::now();
        {
            corio::task_group g;
            for (std::size_t i = 0; i < m_opt.urls.size(); ++i)
                g.create_task(fetch(i), "fetch " + m_opt.urls[i]);
            co_await g.join();
        }
        clear_progress();
        int failed = 0;
        std::uint64_t total = 0;
        for (const result& r : m_results) {
            failed += r.failed();
            total += r.bytes;
        }
        int status = failed ? 1 : 0;
        if (!m_opt.headers_to.empty()) {
            std::string all;
            for (const result& r : m_results)
                all += r.headers_block;
            auto write = cfs::write_file(m_opt.headers_to, all);
            try {
                co_await std::move(write);
            } catch (const std::system_error& e) {
                std::fprintf(stderr, "corio-fetch: %s\n", e.what());
                status = 1;
            }
        }
        const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
        std::fprintf(stderr, "%zu URL%s: %zu ok, %d failed; %s in %.2f s\n", m_results.size(),
                     m_results.size() == 1 ? "" : "s", m_results.size() - failed, failed,
                     human_bytes(total).c_str(), secs);
        co_return status;
    }

  private:
    corio::task<> fetch(std::size_t i) {
        result& r = m_results[i];
        r.url = m_opt.urls[i];
        auto unit = co_await m_limit;
        ++m_in_flight;
        draw_progress(true);
        const auto start = clock_type::now();
        std::optional<cfs::file> out;
        try {
            http::request_options ro;
            ro.timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::duration<double>(m_opt.timeout_s));
            auto stream = m_client.stream("GET", r.url, std::move(ro));
            http::client_response resp = co_await std::move(stream);
            r.status = resp.status();
            r.reason = resp.reason();
            r.final_url = resp.url().str();
            r.headers_block = "== " + r.url + " -> " + std::to_string(r.status) +
                              (r.reason.empty() ? "" : " " + r.reason) +
                              (r.final_url != r.url ? " (" + r.final_url + ")" : "") + "\n" +
                              format_headers(resp.headers()) + "\n\n";
            if (!m_opt.output_dir.empty()) {
                auto opened = open_unique(file_name_for(resp.url()));
                out.emplace(co_await std::move(opened));
                r.saved_to = out->path().string();
            }
            for (;;) {
                auto next = resp.read_some();
                const std::string_view piece = co_await std::move(next);
                if (piece.empty())
                    break;
                r.bytes += piece.size();
                m_bytes += piece.size();
                if (out) {
                    // The piece stays valid until the next read, so it is written from where
                    // it lies.
                    auto w = out->write(std::as_bytes(std::span(piece.data(), piece.size())));
                    co_await std::move(w);
                }
                draw_progress(false);
            }
            if (out) {
                auto closing = out->close();
                co_await std::move(closing);
            }
        } catch (const corio::cancelled_error&) {
            throw;
        } catch (const std::exception& e) {
            r.error = e.what();
            r.headers_block = "== " + r.url + " -> error: " + r.error + "\n\n";
        }
        if (!r.error.empty() && out && out->is_open()) {
            // A body cut short is not kept.
            const std::filesystem::path partial = out->path();
            auto closing = out->close();
            try {
                co_await std::move(closing);
            } catch (const std::system_error&) {
            }
            auto remove_it = [partial] {
                std::error_code ec;
                std::filesystem::remove(partial, ec);
            };
            auto removed = corio::to_thread(remove_it);
            co_await removed;
            r.saved_to.clear();
        }
        r.ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
        --m_in_flight;
        ++m_done;
        print_result(r);
    }

    // Opens DIR/name, or DIR/name-1, name-2... when taken (by an earlier file or another URL of
    // this run): exclusive creation makes the choice race-free.
    corio::task<cfs::file> open_unique(std::string name) {
        for (int k = 0;; ++k) {
            const std::filesystem::path p =
                std::filesystem::path(m_opt.output_dir) / numbered(name, k);
            auto opening = cfs::file::open(p, cfs::open_mode::write | cfs::open_mode::create |
                                                  cfs::open_mode::exclusive);
            try {
                co_return co_await std::move(opening);
            } catch (const std::system_error& e) {
                if (e.code() != std::errc::file_exists || k >= 10000)
                    throw;
            }
        }
    }

    void print_result(const result& r) {
        clear_progress();
        if (!r.error.empty()) {
            std::printf("ERR  %10s %7.0f ms  %s: %s\n", "-", r.ms, r.url.c_str(), r.error.c_str());
        } else {
            std::string where = r.url;
            if (r.final_url != r.url)
                where += " -> " + r.final_url;
            if (!r.saved_to.empty())
                where += "  [" + r.saved_to + "]";
            std::printf("%3d  %10s %7.0f ms  %s\n", r.status, human_bytes(r.bytes).c_str(), r.ms,
                        where.c_str());
        }
        std::fflush(stdout);
        draw_progress(true);
    }

    // The progress line, on a terminal only: redrawn in place, at most every 100 ms unless
    // `force`.
    void draw_progress(bool force) {
        if (!m_tty)
            return;
        const auto now = clock_type::now();
        if (!force && now - m_last_draw < std::chrono::milliseconds(100))
            return;
        m_last_draw = now;
        std::printf("\r\033[K[%zu/%zu] %zu in flight, %s", m_done, m_results.size(), m_in_flight,
                    human_bytes(m_bytes).c_str());
        std::fflush(stdout);
        m_progress_shown = true;
    }

    void clear_progress() {
        if (m_tty && m_progress_shown) {
            std::printf("\r\033[K");
            std::fflush(stdout); // before anything goes to stderr
            m_progress_shown = false;
        }
    }

    const options& m_opt;
    corio::semaphore m_limit;
    http::client m_client;
    std::vector<result> m_results;
    std::size_t m_in_flight = 0;
    std::size_t m_done = 0;
    std::uint64_t m_bytes = 0;
    bool m_tty = false;
    bool m_progress_shown = false;
    clock_type::time_point m_last_draw{};
};

corio::task<int> amain(const options* o) {
    fetcher f(*o);
    auto running = f.run();
    co_return co_await std::move(running);
}

} // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    try {
        return corio::run(amain(&o));
    } catch (const corio::cancelled_error&) {
        std::fprintf(stderr, "corio-fetch: interrupted\n");
        return 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corio-fetch: %s\n", e.what());
        return 1;
    }
}

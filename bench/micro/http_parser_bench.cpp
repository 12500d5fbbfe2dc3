// Cost of corio::http::parse_request_head on the heads a server sees most: the GET that wrk
// sends (one header), a typical five-header GET from a command-line client, and a 15-header
// request from a browser; and of chunked_decoder on a small chunked body. The request_head is
// reused across iterations as a server connection reuses it, so the steady state allocates
// nothing. ns_per_op is per parsed head (or body).

#include <corio/http/parser.hpp>

#include "bench_common.hpp"

#include <cstdlib>
#include <string_view>

namespace {

using corio::http::chunked_decoder;
using corio::http::parse_request_head;
using corio::http::request_head;

constexpr std::string_view wrk_get = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

constexpr std::string_view five_header_get = "GET /index.html HTTP/1.1\r\n"
                                             "Host: example.com\r\n"
                                             "User-Agent: curl/7.88.1\r\n"
                                             "Accept: */*\r\n"
                                             "Accept-Encoding: gzip, deflate\r\n"
                                             "Connection: keep-alive\r\n"
                                             "\r\n";

constexpr std::string_view browser_get =
    "GET /articles/2026/11/parsing-http-fast.html?ref=home&utm_source=feed HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: max-age=0\r\n"
    "sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36\r\n"
    "Accept: "
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/"
    "*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Referer: https://www.example.com/\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n"
    "Cookie: session=4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a; theme=dark; "
    "_ga=GA1.2.123456789.1700000000\r\n"
    "\r\n";

constexpr std::string_view chunked_body = "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                                          "10;ext=1\r\n0123456789abcdef\r\n"
                                          "0\r\n\r\n";

void parse_bench(benchmark::State& state, std::string_view text) {
    request_head head;
    if (parse_request_head(text, head) != text.size())
        std::abort(); // the benchmark input must be a complete, valid head
    for (auto _ : state) {
        const std::size_t n = parse_request_head(text, head);
        corio_bench::keep(n);
        corio_bench::keep(head.headers.size());
    }
    corio_bench::report_ops(state, 1);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}

void BM_ParseRequestHead_WrkGet(benchmark::State& state) {
    parse_bench(state, wrk_get);
}
void BM_ParseRequestHead_FiveHeaderGet(benchmark::State& state) {
    parse_bench(state, five_header_get);
}
void BM_ParseRequestHead_Browser15Headers(benchmark::State& state) {
    parse_bench(state, browser_get);
}

void BM_ChunkedDecoder_TwoChunks(benchmark::State& state) {
    for (auto _ : state) {
        chunked_decoder d;
        std::string_view rest = chunked_body;
        std::size_t body = 0;
        for (;;) {
            const auto s = d.decode(rest);
            rest.remove_prefix(s.consumed);
            body += s.data.size();
            if (s.done || s.consumed == 0)
                break;
        }
        corio_bench::keep(body);
    }
    corio_bench::report_ops(state, 1);
}

} // namespace

BENCHMARK(BM_ParseRequestHead_WrkGet);
BENCHMARK(BM_ParseRequestHead_FiveHeaderGet);
BENCHMARK(BM_ParseRequestHead_Browser15Headers);
BENCHMARK(BM_ChunkedDecoder_TwoChunks);

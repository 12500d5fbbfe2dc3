// corio_loadgen: the echo load generator of ./run.sh bench-net.
//
// Plain C++ on epoll, single-threaded and NOT built on corio, so that it
// measures the servers and not itself. Every echoed byte is checked: each
// request carries a pattern derived from its connection and its per-connection
// sequence number, and a byte that differs, a byte too many or a closed
// connection ends the run with a message and exit status 1.
//
// Modes:
//   pingpong  each connection keeps exactly one request outstanding and sends
//             the next one as soon as the echo is complete (closed loop).
//             Latency = completion - send time.
//   paced     a fixed aggregate rate (--rate) spread evenly over the
//             connections: connection i sends its k-th request at
//             t0 + (i + k * connections) / rate. A connection still keeps at
//             most one request outstanding; when an echo comes back late the
//             next request leaves at once, and its latency is measured from
//             its SCHEDULED time, so a server that stalls is charged for the
//             requests it delayed (no coordinated omission, as in wrk2).
//   idle      open --connections connections, echo one request on each
//             (unless --ping-first 0), print "ready N" on stdout and hold them
//             for --hold seconds (or until SIGTERM / SIGINT): the RSS probe.
//
// The measurement window is [warmup, warmup + duration): requests completed
// in it are counted and their latencies recorded. With --server-pid PID the
// server's utime + stime (/proc/PID/stat) is read at both ends of the window,
// so the CPU time per request covers exactly the counted requests.
//
// Usage: corio_loadgen --port P [--host 127.0.0.1] [--connections 50]
//          [--size 64] [--duration 5] [--warmup 1] [--mode pingpong|paced|idle]
//          [--rate 100000] [--spin] [--hold 10] [--ping-first 1]
//          [--server-pid PID] [--json]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <queue>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

[[noreturn]] void fail(const char* format, ...) {
    std::fflush(stdout);
    std::fputs("corio_loadgen: error: ", stderr);
    va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::fputc('\n', stderr);
    std::exit(1);
}

std::int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// ------------------------------------------------------------------ options --

enum class mode { pingpong, paced, idle };

struct options {
    std::string host = "127.0.0.1";
    int port = 0;
    int connections = 50;
    std::size_t size = 64;
    double duration = 5.0;
    double warmup = 1.0;
    enum mode mode = mode::pingpong;
    double rate = 100000.0;
    bool spin = false;
    double hold = 10.0;
    bool ping_first = true;
    int server_pid = 0;
    bool json = false;
};

void usage(FILE* out) {
    std::fputs("usage: corio_loadgen --port P [--host H] [--connections N] [--size BYTES]\n"
               "         [--duration S] [--warmup S] [--mode pingpong|paced|idle]\n"
               "         [--rate REQ_PER_S] [--spin] [--hold S] [--ping-first 0|1]\n"
               "         [--server-pid PID] [--json]\n",
               out);
}

double to_double(const char* name, const char* text) {
    char* end = nullptr;
    double value = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= 0))
        fail("%s: not a non-negative number: '%s'", name, text);
    return value;
}

long to_long(const char* name, const char* text) {
    char* end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 0)
        fail("%s: not a non-negative integer: '%s'", name, text);
    return value;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc)
                fail("%s needs a value", arg.c_str());
            return argv[++i];
        };
        if (arg == "--host") {
            o.host = value();
        } else if (arg == "--port") {
            o.port = static_cast<int>(to_long("--port", value()));
        } else if (arg == "--connections") {
            o.connections = static_cast<int>(to_long("--connections", value()));
        } else if (arg == "--size") {
            o.size = static_cast<std::size_t>(to_long("--size", value()));
        } else if (arg == "--duration") {
            o.duration = to_double("--duration", value());
        } else if (arg == "--warmup") {
            o.warmup = to_double("--warmup", value());
        } else if (arg == "--mode") {
            std::string m = value();
            if (m == "pingpong")
                o.mode = mode::pingpong;
            else if (m == "paced")
                o.mode = mode::paced;
            else if (m == "idle")
                o.mode = mode::idle;
            else
                fail("--mode: unknown mode '%s' (pingpong, paced, idle)", m.c_str());
        } else if (arg == "--rate") {
            o.rate = to_double("--rate", value());
        } else if (arg == "--spin") {
            o.spin = true;
        } else if (arg == "--hold") {
            o.hold = to_double("--hold", value());
        } else if (arg == "--ping-first") {
            o.ping_first = to_long("--ping-first", value()) != 0;
        } else if (arg == "--server-pid") {
            o.server_pid = static_cast<int>(to_long("--server-pid", value()));
        } else if (arg == "--json") {
            o.json = true;
        } else if (arg == "--help" || arg == "-h") {
            usage(stdout);
            std::exit(0);
        } else {
            usage(stderr);
            fail("unknown option '%s'", arg.c_str());
        }
    }
    if (o.port <= 0 || o.port > 65535)
        fail("--port is required (1..65535)");
    if (o.connections <= 0)
        fail("--connections must be at least 1");
    if (o.size == 0)
        fail("--size must be at least 1");
    if (o.mode == mode::paced && o.rate <= 0)
        fail("--rate must be positive in paced mode");
    if (o.mode != mode::idle && o.duration <= 0)
        fail("--duration must be positive");
    return o;
}

// ---------------------------------------------------------------- histogram --

// Log-linear latency histogram in nanoseconds: exact below 128 ns, then 128
// sub-buckets per power of two (relative error under 0.8 %).
class histogram {
  public:
    static constexpr int sub_bits = 7;
    static constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits;

    void add(std::uint64_t value) {
        ++m_counts[index_of(value)];
        ++m_total;
        m_max = std::max(m_max, value);
    }

    std::uint64_t total() const { return m_total; }
    std::uint64_t max() const { return m_max; }

    // The value at quantile q (0 < q <= 1): the middle of the bucket holding the
    // ceil(q * total)-th smallest value, or 0 when empty.
    std::uint64_t quantile(double q) const {
        if (m_total == 0)
            return 0;
        auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(m_total)));
        rank = std::clamp<std::uint64_t>(rank, 1, m_total);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < m_counts.size(); ++i) {
            seen += m_counts[i];
            if (seen >= rank)
                return std::min(middle_of(i), m_max);
        }
        return m_max;
    }

  private:
    static std::size_t index_of(std::uint64_t v) {
        if (v < sub_count)
            return static_cast<std::size_t>(v);
        int exponent = 63 - __builtin_clzll(v);
        int shift = exponent - sub_bits;
        return (static_cast<std::size_t>(shift + 1) << sub_bits) +
               static_cast<std::size_t>((v >> shift) - sub_count);
    }

    static std::uint64_t middle_of(std::size_t index) {
        if (index < sub_count)
            return index;
        int shift = static_cast<int>(index >> sub_bits) - 1;
        std::uint64_t lower = (sub_count + (index & (sub_count - 1))) << shift;
        return lower + ((std::uint64_t{1} << shift) >> 1);
    }

    std::vector<std::uint64_t> m_counts = std::vector<std::uint64_t>(64 << sub_bits);
    std::uint64_t m_total = 0;
    std::uint64_t m_max = 0;
};

// ------------------------------------------------------------------ payload --

std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// Fills `size` bytes with the pattern of request `seq` of connection `id`:
// 64-bit words seed + i * odd, so that every request differs from every other
// (a stale, duplicated or reordered byte is caught) and filling stays cheap.
void fill_payload(char* data, std::size_t size, std::uint32_t id, std::uint64_t seq) {
    std::uint64_t word = mix((std::uint64_t{id} << 40) ^ seq);
    constexpr std::uint64_t step = 0xD1B54A32D192ED03ULL;
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8, word += step)
        std::memcpy(data + i, &word, 8);
    if (i < size)
        std::memcpy(data + i, &word, size - i);
}

// -------------------------------------------------------------- server cpu --

struct cpu_sample {
    bool valid = false;
    double seconds = 0; // utime + stime
};

cpu_sample read_cpu(int pid) {
    cpu_sample s;
    if (pid <= 0)
        return s;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line))
        return s;
    // The command name (field 2) may hold spaces; fields resume after the last ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos)
        return s;
    std::istringstream fields(line.substr(close + 1));
    std::string field;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    // After ')': field 3 (state) ... field 14 (utime), field 15 (stime).
    for (int n = 3; n <= 15 && (fields >> field); ++n) {
        if (n == 14)
            utime = std::strtoull(field.c_str(), nullptr, 10);
        else if (n == 15)
            stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    s.valid = true;
    s.seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    return s;
}

// Busy time of the whole machine so far (all CPUs: user, nice, system, irq,
// softirq, steal), from /proc/stat; negative when unreadable. The driver
// subtracts the server's and the client's CPU time to see other load.
double machine_busy_seconds() {
    std::ifstream in("/proc/stat");
    std::string name;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       steal = 0;
    if (!(in >> name >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
        name != "cpu")
        return -1;
    return static_cast<double>(user + nice + system + irq + softirq + steal) /
           static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// ------------------------------------------------------------- connections --

void raise_fd_limit(int connections) {
    rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return;
    rlim_t wanted = static_cast<rlim_t>(connections) + 64;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted)
        limit.rlim_max = wanted; // works as root; checked below otherwise
    if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur < wanted)
        limit.rlim_cur = std::min(limit.rlim_max, std::max(wanted, limit.rlim_cur));
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < wanted)
        fail("cannot raise RLIMIT_NOFILE to %llu for %d connections",
             static_cast<unsigned long long>(wanted), connections);
}

sockaddr_storage resolve(const options& o, socklen_t& length) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    std::string port = std::to_string(o.port);
    if (int rc = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &result); rc != 0)
        fail("cannot resolve %s: %s", o.host.c_str(), gai_strerror(rc));
    sockaddr_storage address{};
    std::memcpy(&address, result->ai_addr, result->ai_addrlen);
    length = result->ai_addrlen;
    freeaddrinfo(result);
    return address;
}

int connect_one(const sockaddr_storage& address, socklen_t length, int index) {
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket: %s", std::strerror(errno));
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0)
        fail("connection %d: connect: %s", index, std::strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

struct connection {
    int fd = -1;
    std::uint32_t id = 0;
    std::uint64_t seq = 0; // sequence number of the current (or last) request
    std::unique_ptr<char[]> payload;
    std::size_t sent = 0;
    std::size_t received = 0;
    bool outstanding = false;
    bool want_write = false;
    std::int64_t start = 0;    // send time (pingpong) or scheduled time (paced)
    std::int64_t next_due = 0; // paced: scheduled time of the next request
};

[[noreturn]] void mismatch(const connection& c, std::size_t offset, unsigned char got) {
    fail("connection %u request %" PRIu64 ": byte %zu of the echo is 0x%02x, expected 0x%02x", c.id,
         c.seq, offset, got, static_cast<unsigned char>(c.payload[offset]));
}

// Checks `n` received bytes against the payload from offset c.received.
void verify(const connection& c, const char* data, std::size_t n) {
    if (std::memcmp(data, c.payload.get() + c.received, n) == 0)
        return;
    for (std::size_t i = 0; i < n; ++i)
        if (data[i] != c.payload[c.received + i])
            mismatch(c, c.received + i, static_cast<unsigned char>(data[i]));
}

// ------------------------------------------------------------------- runner --

class runner {
  public:
    explicit runner(const options& o) : m_o(o), m_scratch(new char[scratch_size]) {}

    void connect_all() {
        socklen_t length = 0;
        sockaddr_storage address = resolve(m_o, length);
        m_connections.resize(static_cast<std::size_t>(m_o.connections));
        for (int i = 0; i < m_o.connections; ++i) {
            connection& c = m_connections[static_cast<std::size_t>(i)];
            c.fd = connect_one(address, length, i);
            c.id = static_cast<std::uint32_t>(i);
            if (m_o.mode != mode::idle || m_o.ping_first)
                c.payload.reset(new char[m_o.size]);
        }
    }

    void close_all() {
        for (connection& c : m_connections)
            if (c.fd >= 0)
                close(c.fd);
        m_connections.clear();
    }

    // One blocking round trip on every connection (idle mode's first echo).
    void ping_each_once() {
        for (connection& c : m_connections) {
            fill_payload(c.payload.get(), m_o.size, c.id, c.seq);
            std::size_t sent = 0;
            while (sent < m_o.size) {
                ssize_t n = send(c.fd, c.payload.get() + sent, m_o.size - sent, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    fail("connection %u: send: %s", c.id, std::strerror(errno));
                sent += static_cast<std::size_t>(n);
            }
            c.received = 0;
            while (c.received < m_o.size) {
                ssize_t n =
                    recv(c.fd, m_scratch.get(), std::min(scratch_size, m_o.size - c.received), 0);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n == 0)
                    fail("connection %u: the server closed the connection", c.id);
                if (n < 0)
                    fail("connection %u: recv: %s", c.id, std::strerror(errno));
                verify(c, m_scratch.get(), static_cast<std::size_t>(n));
                c.received += static_cast<std::size_t>(n);
            }
            ++c.seq;
        }
    }

    // pingpong and paced: runs warmup + duration, then reports.
    int run_load() {
        m_ep = epoll_create1(EPOLL_CLOEXEC);
        if (m_ep < 0)
            fail("epoll_create1: %s", std::strerror(errno));
        for (connection& c : m_connections) {
            set_nonblocking(c.fd);
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u32 = c.id;
            if (epoll_ctl(m_ep, EPOLL_CTL_ADD, c.fd, &ev) != 0)
                fail("epoll_ctl: %s", std::strerror(errno));
        }
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

        const std::int64_t t0 = now_ns();
        m_window_start = t0 + static_cast<std::int64_t>(m_o.warmup * 1e9);
        m_window_end = m_window_start + static_cast<std::int64_t>(m_o.duration * 1e9);
        const bool paced = m_o.mode == mode::paced;
        const auto n = static_cast<std::int64_t>(m_connections.size());
        m_interval = paced ? static_cast<std::int64_t>(static_cast<double>(n) * 1e9 / m_o.rate) : 0;

        for (connection& c : m_connections) {
            if (paced) {
                c.next_due =
                    t0 + static_cast<std::int64_t>(static_cast<double>(c.id) * 1e9 / m_o.rate);
                m_due.emplace(c.next_due, c.id);
            } else {
                begin_request(c, t0);
            }
        }

        constexpr int max_events = 512;
        epoll_event events[max_events];
        for (;;) {
            std::int64_t now = now_ns();
            if (!m_measuring && now >= m_window_start)
                start_window(now);
            if (now >= m_window_end)
                break;
            while (!m_due.empty() && m_due.top().first <= now) {
                auto [due, id] = m_due.top();
                m_due.pop();
                begin_request(m_connections[id], due);
            }
            std::int64_t deadline = m_measuring ? m_window_end : m_window_start;
            if (!m_due.empty())
                deadline = std::min(deadline, m_due.top().first);
            int count = wait(events, max_events, m_o.spin ? 0 : deadline - now);
            if (m_measuring) {
                ++m_waits;
                m_events += static_cast<std::uint64_t>(count);
            }
            for (int i = 0; i < count; ++i) {
                connection& c = m_connections[events[i].data.u32];
                if (events[i].events & EPOLLOUT)
                    on_writable(c);
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_readable(c);
            }
        }
        const std::int64_t end = now_ns();
        cpu_sample server_end = read_cpu(m_o.server_pid);
        double client_cpu = own_cpu_seconds() - m_client_cpu_start;
        double machine_end = machine_busy_seconds();
        double machine_busy =
            m_machine_busy_start >= 0 && machine_end >= 0 ? machine_end - m_machine_busy_start : -1;
        close(m_ep);
        report(static_cast<double>(end - m_window_start) / 1e9, server_end, client_cpu,
               machine_busy);
        return 0;
    }

  private:
    static constexpr std::size_t scratch_size = 256 * 1024;

    static void set_nonblocking(int fd) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
            fail("fcntl(O_NONBLOCK): %s", std::strerror(errno));
    }

    // epoll wait with a nanosecond timeout (epoll_pwait2 where the kernel has it).
    int wait(epoll_event* events, int max_events, std::int64_t timeout_ns) {
        if (timeout_ns < 0)
            timeout_ns = 0;
        for (;;) {
            int count;
#ifdef SYS_epoll_pwait2
            if (m_have_pwait2) {
                timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                            static_cast<long>(timeout_ns % 1'000'000'000)};
                count = static_cast<int>(
                    syscall(SYS_epoll_pwait2, m_ep, events, max_events, &ts, nullptr, 0));
                if (count < 0 && errno == ENOSYS) {
                    m_have_pwait2 = false;
                    continue;
                }
            } else
#endif
            {
                count = epoll_wait(m_ep, events, max_events,
                                   static_cast<int>((timeout_ns + 999'999) / 1'000'000));
            }
            if (count >= 0)
                return count;
            if (errno != EINTR)
                fail("epoll_wait: %s", std::strerror(errno));
            return 0;
        }
    }

    void start_window(std::int64_t now) {
        m_measuring = true;
        m_window_start = now;
        m_window_end = now + static_cast<std::int64_t>(m_o.duration * 1e9);
        m_server_start = read_cpu(m_o.server_pid);
        m_client_cpu_start = own_cpu_seconds();
        m_machine_busy_start = machine_busy_seconds();
    }

    void begin_request(connection& c, std::int64_t start) {
        ++c.seq;
        fill_payload(c.payload.get(), m_o.size, c.id, c.seq);
        c.sent = 0;
        c.received = 0;
        c.outstanding = true;
        c.start = start;
        c.next_due = start + m_interval;
        on_writable(c);
    }

    void set_write_interest(connection& c, bool on) {
        if (c.want_write == on)
            return;
        c.want_write = on;
        epoll_event ev{};
        ev.events = on ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
        ev.data.u32 = c.id;
        if (epoll_ctl(m_ep, EPOLL_CTL_MOD, c.fd, &ev) != 0)
            fail("epoll_ctl: %s", std::strerror(errno));
    }

    void on_writable(connection& c) {
        while (c.outstanding && c.sent < m_o.size) {
            ssize_t n = send(c.fd, c.payload.get() + c.sent, m_o.size - c.sent, MSG_NOSIGNAL);
            if (n > 0) {
                c.sent += static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && errno == EAGAIN) {
                set_write_interest(c, true);
                return;
            } else {
                fail("connection %u: send: %s", c.id, std::strerror(errno));
            }
        }
        set_write_interest(c, false);
    }

    void on_readable(connection& c) {
        for (;;) {
            ssize_t n = recv(c.fd, m_scratch.get(), scratch_size, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN)
                    return;
                fail("connection %u: recv: %s", c.id, std::strerror(errno));
            }
            if (n == 0)
                fail("connection %u: the server closed the connection", c.id);
            auto got = static_cast<std::size_t>(n);
            if (!c.outstanding || got > m_o.size - c.received)
                fail("connection %u request %" PRIu64
                     ": the server echoed %zu bytes more than were sent",
                     c.id, c.seq, got - (c.outstanding ? m_o.size - c.received : 0));
            if (got > c.sent - c.received)
                fail("connection %u request %" PRIu64 ": the server echoed bytes not sent yet",
                     c.id, c.seq);
            verify(c, m_scratch.get(), got);
            c.received += got;
            if (c.received == m_o.size) {
                complete(c);
                return;
            }
            if (got < scratch_size)
                return; // drained; level-triggered epoll reports more
        }
    }

    void complete(connection& c) {
        std::int64_t now = now_ns();
        c.outstanding = false;
        if (m_measuring && now < m_window_end) {
            ++m_requests;
            m_latency.add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - c.start)));
        }
        if (m_o.mode == mode::paced) {
            if (c.next_due <= now)
                begin_request(c, c.next_due); // late: send now, measured from the schedule
            else
                m_due.emplace(c.next_due, c.id);
        } else {
            begin_request(c, now);
        }
    }

    void report(double seconds, cpu_sample server_end, double client_cpu, double machine_busy) {
        double rps = seconds > 0 ? static_cast<double>(m_requests) / seconds : 0;
        auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
        double p50 = us(m_latency.quantile(0.50));
        double p99 = us(m_latency.quantile(0.99));
        double p999 = us(m_latency.quantile(0.999));
        double max = us(m_latency.max());
        bool have_cpu = m_server_start.valid && server_end.valid;
        double server_cpu = have_cpu ? server_end.seconds - m_server_start.seconds : 0;
        double cpu_per_request_us =
            have_cpu && m_requests ? server_cpu * 1e6 / static_cast<double>(m_requests) : 0;
        const char* name = m_o.mode == mode::paced ? "paced" : "pingpong";
        if (m_o.json) {
            std::printf(
                "{\"mode\": \"%s\", \"connections\": %zu, \"size\": %zu, \"seconds\": %.6f, "
                "\"requests\": %" PRIu64 ", \"rps\": %.1f, \"target_rate\": %.1f, "
                "\"p50_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, \"max_us\": %.2f, "
                "\"server_cpu_s\": %s, \"server_cpu_us_per_request\": %s, \"client_cpu_s\": %.4f, "
                "\"machine_busy_s\": %.2f, \"waits\": %" PRIu64 ", \"events\": %" PRIu64 "}\n",
                name, m_connections.size(), m_o.size, seconds, m_requests, rps,
                m_o.mode == mode::paced ? m_o.rate : 0.0, p50, p99, p999, max,
                have_cpu ? std::to_string(server_cpu).c_str() : "null",
                have_cpu ? std::to_string(cpu_per_request_us).c_str() : "null", client_cpu,
                machine_busy, m_waits, m_events);
        } else {
            std::printf("%s: %zu connections x %zu B, %.2f s: %" PRIu64 " requests, %.0f req/s",
                        name, m_connections.size(), m_o.size, seconds, m_requests, rps);
            if (m_o.mode == mode::paced)
                std::printf(" (target %.0f)", m_o.rate);
            std::printf("\n  latency us: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", p50, p99,
                        p999, max);
            if (have_cpu)
                std::printf("  server cpu: %.3f s, %.3f us/request\n", server_cpu,
                            cpu_per_request_us);
            std::printf(
                "  client cpu: %.3f s (%.0f %% of one core), %" PRIu64 " waits, %.2f events/wait\n",
                client_cpu, seconds > 0 ? 100.0 * client_cpu / seconds : 0.0, m_waits,
                m_waits ? static_cast<double>(m_events) / static_cast<double>(m_waits) : 0.0);
            if (machine_busy >= 0)
                std::printf("  machine busy: %.2f s (all CPUs)\n", machine_busy);
        }
    }

    const options& m_o;
    std::unique_ptr<char[]> m_scratch;
    std::vector<connection> m_connections;
    int m_ep = -1;
    bool m_have_pwait2 = true;
    bool m_measuring = false;
    std::int64_t m_window_start = 0;
    std::int64_t m_window_end = 0;
    std::int64_t m_interval = 0;
    std::uint64_t m_requests = 0;
    std::uint64_t m_waits = 0;  // epoll waits in the window
    std::uint64_t m_events = 0; // events they returned
    histogram m_latency;
    cpu_sample m_server_start;
    double m_client_cpu_start = 0;
    double m_machine_busy_start = -1;
    using due_entry = std::pair<std::int64_t, std::uint32_t>;
    std::priority_queue<due_entry, std::vector<due_entry>, std::greater<>> m_due;
};

// Idle mode: holds the connections until --hold runs out or a signal arrives.
int hold(runner& r, const options& o) {
    if (o.ping_first)
        r.ping_each_once();
    std::printf("ready %d\n", o.connections);
    std::fflush(stdout);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    auto ns = static_cast<std::int64_t>(o.hold * 1e9);
    timespec timeout{static_cast<time_t>(ns / 1'000'000'000),
                     static_cast<long>(ns % 1'000'000'000)};
    while (sigtimedwait(&signals, nullptr, &timeout) < 0 && errno == EINTR) {
    }
    r.close_all();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    if (o.mode == mode::idle) {
        // Signals are taken by sigtimedwait while holding.
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        sigprocmask(SIG_BLOCK, &signals, nullptr);
    }
    raise_fd_limit(o.connections);
    runner r(o);
    r.connect_all();
    int status = o.mode == mode::idle ? hold(r, o) : r.run_load();
    r.close_all();
    return status;
}

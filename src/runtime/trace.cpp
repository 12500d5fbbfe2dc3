#include "corio/runtime/trace.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace corio {

namespace {

using time_point = scheduler::time_point;

std::int64_t ns_between(time_point a, time_point b) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

// Appends `s` as a JSON string literal. Control characters are escaped; bytes that are not
// valid UTF-8 become U+FFFD, so the output is valid JSON whatever the task names hold.
void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xf];
                } else {
                    out += static_cast<char>(c);
                }
            }
            ++i;
            continue;
        }
        // A multi-byte sequence: check the lead byte, the length and the continuation bytes
        // (rejecting overlong forms, surrogates and code points past U+10FFFF).
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xbf; // allowed range of the second byte
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        }
        bool valid = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; valid && k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            valid = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xbf);
        }
        if (valid) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\\ufffd";
            ++i;
        }
    }
    out += '"';
}

// Microseconds from `origin` to `t`, with nanosecond precision.
void append_us(std::string& out, std::int64_t ns) {
    char buf[48];
    const auto abs_ns = ns < 0 ? -ns : ns;
    std::snprintf(buf, sizeof buf, "%s%lld.%03lld", ns < 0 ? "-" : "",
                  static_cast<long long>(abs_ns / 1000), static_cast<long long>(abs_ns % 1000));
    out += buf;
}

std::string format_ms(std::int64_t ns, int decimals) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f ms", decimals, static_cast<double>(ns) / 1e6);
    return buf;
}

} // namespace

trace_recorder::trace_recorder(scheduler& loop) : m_loop(loop) {
    register_live_tasks();
    m_loop.set_observer(this);
}

trace_recorder::~trace_recorder() {
    if (m_loop.observer() == this)
        m_loop.set_observer(nullptr);
}

void trace_recorder::clear() {
    m_tasks.clear();
    m_open.clear();
    m_index.clear();
    m_dropped = 0;
    register_live_tasks();
}

void trace_recorder::register_live_tasks() {
    // The loop lists live tasks newest first; ids grow with creation, so sorting by id gives
    // creation order.
    std::vector<const detail::task_header*> live;
    for (const detail::task_header* t = m_loop.first_task(); t; t = t->m_next_task)
        live.push_back(t);
    std::sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->m_id < b->m_id; });
    const time_point now = m_loop.time();
    for (const detail::task_header* t : live) {
        switch (t->m_state) {
        case detail::task_state::running:
            add_task(*t, now, trace_kind::running, "");
            break;
        case detail::task_state::suspended:
            add_task(*t, now, trace_kind::waiting, t->m_wait ? t->m_wait->m_kind->what : "");
            break;
        case detail::task_state::done:
            break;
        default:
            add_task(*t, now, trace_kind::ready, "");
        }
    }
}

std::size_t trace_recorder::add_task(const detail::task_header& t, time_point now, trace_kind kind,
                                     const char* what) {
    task_trace tr;
    tr.id = t.m_id;
    tr.name = scheduler::task_name(t);
    tr.created = now;
    // Room for one more in both vectors, growing geometrically (reserve(size + 1) would not).
    if (m_tasks.size() == m_tasks.capacity())
        m_tasks.reserve(std::max<std::size_t>(16, 2 * m_tasks.capacity()));
    if (m_open.size() == m_open.capacity())
        m_open.reserve(std::max<std::size_t>(16, 2 * m_open.capacity()));
    const std::size_t i = m_tasks.size();
    m_index.emplace(t.m_id, i);
    // Nothing below throws: both vectors have room. So a failure above leaves no trace.
    m_tasks.push_back(std::move(tr));
    m_open.push_back(open_state{kind, true, now, what ? what : "", t.m_name});
    return i;
}

std::size_t trace_recorder::index_of(const detail::task_header& t, time_point now,
                                     trace_kind assumed, const char* what) {
    if (auto it = m_index.find(t.m_id); it != m_index.end())
        return it->second;
    return add_task(t, now, assumed, what);
}

void trace_recorder::transition(const detail::task_header& t, trace_kind from, trace_kind to,
                                const char* what) noexcept {
    const time_point now = m_loop.time();
    try {
        const std::size_t i = index_of(t, now, from, "");
        open_state& o = m_open[i];
        task_trace& tr = m_tasks[i];
        if (t.m_name != o.name_ptr) {
            tr.name = scheduler::task_name(t);
            o.name_ptr = t.m_name;
        }
        if (o.alive)
            tr.intervals.push_back(trace_interval{o.kind, o.since, now, o.what});
        o.kind = to;
        o.since = now;
        o.what = what ? what : "";
    } catch (...) {
        // Out of memory: the observer must not throw, so the event is counted and lost.
        ++m_dropped;
    }
}

void trace_recorder::on_create(const detail::task_header& t) noexcept {
    try {
        if (!m_index.contains(t.m_id))
            add_task(t, m_loop.time(), trace_kind::ready, "");
    } catch (...) {
        ++m_dropped;
    }
}

void trace_recorder::on_run(const detail::task_header& t) noexcept {
    transition(t, trace_kind::ready, trace_kind::running, "");
}

void trace_recorder::on_suspend(const detail::task_header& t, const char* what) noexcept {
    transition(t, trace_kind::running, trace_kind::waiting, what);
}

void trace_recorder::on_wake(const detail::task_header& t) noexcept {
    transition(t, trace_kind::waiting, trace_kind::ready, "");
}

void trace_recorder::on_done(const detail::task_header& t) noexcept {
    transition(t, trace_kind::running, trace_kind::running, "");
    if (auto it = m_index.find(t.m_id); it != m_index.end()) {
        m_open[it->second].alive = false;
        m_tasks[it->second].finished = m_open[it->second].since;
    }
}

std::vector<trace_interval> trace_recorder::all_intervals(std::size_t i, time_point now) const {
    std::vector<trace_interval> v;
    v.reserve(m_tasks[i].intervals.size() + 1);
    v = m_tasks[i].intervals;
    const open_state& o = m_open[i];
    if (o.alive)
        v.push_back(trace_interval{o.kind, o.since, std::max(now, o.since), o.what});
    return v;
}

std::string trace_recorder::to_chrome_json() const {
    const time_point now = m_loop.time();
    time_point origin = now;
    for (const task_trace& t : m_tasks)
        origin = std::min(origin, t.created);

    std::string out;
    out.reserve(256 + m_tasks.size() * 256);
    out += "{\"traceEvents\":[\n";
    out += R"({"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"corio"}})";
    auto begin_event = [&](const char* name_json_or_null, std::string_view name, const char* cat,
                           std::uint64_t tid) {
        out += ",\n{\"name\":";
        if (name_json_or_null)
            out += name_json_or_null;
        else
            append_json_string(out, name);
        if (cat) {
            out += ",\"cat\":\"";
            out += cat;
            out += '"';
        }
        out += ",\"pid\":1,\"tid\":";
        out += std::to_string(tid);
    };
    for (std::size_t i = 0; i < m_tasks.size(); ++i) {
        const task_trace& t = m_tasks[i];
        begin_event("\"thread_name\"", {}, nullptr, t.id);
        out += ",\"ph\":\"M\",\"args\":{\"name\":";
        append_json_string(out, t.name);
        out += "}}";
        // Keeps the rows in creation order in the viewers.
        begin_event("\"thread_sort_index\"", {}, nullptr, t.id);
        out += ",\"ph\":\"M\",\"args\":{\"sort_index\":";
        out += std::to_string(i);
        out += "}}";
        for (const trace_interval& iv : all_intervals(i, now)) {
            if (iv.kind == trace_kind::running) {
                begin_event("\"cpu\"", {}, "cpu", t.id);
            } else if (iv.kind == trace_kind::waiting) {
                begin_event(nullptr, *iv.what ? iv.what : "wait", "wait", t.id);
            } else {
                continue; // ready time shows as the gap between a wait and the next cpu slice
            }
            out += ",\"ph\":\"X\",\"ts\":";
            append_us(out, ns_between(origin, iv.begin));
            out += ",\"dur\":";
            append_us(out, ns_between(iv.begin, iv.end));
            out += '}';
        }
    }
    out += "\n],\"displayTimeUnit\":\"ms\"}\n";
    return out;
}

void trace_recorder::write_chrome_json(const std::string& path) const {
    const std::string json = to_chrome_json();
    auto fail = [&](int err) {
        throw std::system_error(err, std::generic_category(),
                                "corio::trace_recorder: cannot write '" + path + "'");
    };
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        fail(errno);
    const bool written = std::fwrite(json.data(), 1, json.size(), f) == json.size();
    int err = written ? 0 : errno;
    if (std::fclose(f) != 0 && err == 0)
        err = errno;
    if (!written || err != 0)
        fail(err != 0 ? err : EIO);
}

std::string trace_recorder::render_timeline(const timeline_options& opts) const {
    if (opts.width < 1)
        throw std::invalid_argument("corio::trace_recorder::render_timeline: width must be >= 1");
    const time_point now = m_loop.time();

    // The trace's origin (the times printed are relative to it) and its last event.
    auto drawn = [&opts](const task_trace& t) { return !opts.filter || opts.filter(t); };
    time_point origin = now, last = time_point::min();
    bool any = false;
    for (std::size_t i = 0; i < m_tasks.size(); ++i) {
        const task_trace& t = m_tasks[i];
        if (!drawn(t))
            continue;
        any = true;
        origin = std::min(origin, t.created);
        last = std::max(last, t.created);
        if (!t.intervals.empty())
            last = std::max(last, t.intervals.back().end);
        if (t.finished)
            last = std::max(last, *t.finished);
        if (m_open[i].alive)
            last = std::max(last, now);
    }
    if (!any)
        last = origin;
    const time_point begin = opts.begin.value_or(origin);
    const time_point end = opts.end.value_or(std::max(last, begin));
    if (end < begin)
        throw std::invalid_argument(
            "corio::trace_recorder::render_timeline: the window ends before it begins");

    const int width = opts.width;
    // An empty window still gets one nanosecond, so that every event lands in column 0.
    const double span = static_cast<double>(std::max<std::int64_t>(ns_between(begin, end), 1));
    const double per_ns = width / span;
    auto column_of = [&](time_point t) {
        const double x = std::floor(static_cast<double>(ns_between(begin, t)) * per_ns);
        return static_cast<int>(std::clamp(x, 0.0, static_cast<double>(width - 1)));
    };
    // The last column an interval ending at `t` reaches: an end exactly on a column boundary
    // does not spill into the next column.
    auto last_column_of = [&](time_point t) {
        const double x = std::ceil(static_cast<double>(ns_between(begin, t)) * per_ns) - 1;
        return static_cast<int>(std::clamp(x, 0.0, static_cast<double>(width - 1)));
    };
    auto rank = [](char c) {
        switch (c) {
        case '#':
            return 3;
        case '-':
            return 2;
        case '.':
            return 1;
        default:
            return 0;
        }
    };

    std::size_t name_width = 4;
    for (const task_trace& t : m_tasks)
        if (drawn(t))
            name_width = std::max(name_width, t.name.size());
    name_width = std::min<std::size_t>(name_width, 24);

    const std::int64_t span_ns = ns_between(begin, end);
    const int decimals = span_ns < 10'000'000 ? 3 : 1;
    std::string out;
    // Header: the window's start at the left edge of the bar, its end at the right edge.
    {
        const std::string left = format_ms(ns_between(origin, begin), decimals);
        const std::string right = format_ms(ns_between(origin, end), decimals);
        out.append(name_width, ' ');
        out += " |";
        out += left;
        const std::size_t used = left.size() + right.size();
        out.append(used < static_cast<std::size_t>(width) ? width - used : 1, ' ');
        out += right;
        out += "|  (";
        out += format_ms(static_cast<std::int64_t>(span / width), decimals);
        out += " per column)\n";
    }
    for (std::size_t i = 0; i < m_tasks.size(); ++i) {
        const task_trace& t = m_tasks[i];
        if (!drawn(t))
            continue;
        std::string row(static_cast<std::size_t>(width), ' ');
        for (const trace_interval& iv : all_intervals(i, now)) {
            if (iv.end < begin || iv.begin > end)
                continue;
            const char mark = iv.kind == trace_kind::running   ? '#'
                              : iv.kind == trace_kind::waiting ? '-'
                                                               : '.';
            const int first = column_of(std::max(iv.begin, begin));
            const int last_col =
                iv.end > iv.begin ? std::max(first, last_column_of(std::min(iv.end, end))) : first;
            for (int c = first; c <= last_col; ++c)
                if (rank(mark) > rank(row[static_cast<std::size_t>(c)]))
                    row[static_cast<std::size_t>(c)] = mark;
        }
        std::string name = t.name;
        if (name.size() > name_width)
            name = name.substr(0, name_width - 1) + "~";
        out += name;
        out.append(name_width - name.size(), ' ');
        out += " |";
        out += row;
        out += "|\n";
    }
    if (opts.legend)
        out += "legend: '#' on the CPU  '-' waiting (timer, I/O, other task)  '.' ready, queued  "
               "' ' not alive\n";
    return out;
}

} // namespace corio

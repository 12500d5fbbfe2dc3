/* The echo server written the idiomatic libuv way, a peer of ./run.sh bench-net.
 *
 * Usage: libuv_echo_server PORT
 *
 * Single-threaded default loop, listens on 127.0.0.1:PORT. Each connection is
 * a malloc'ed uv_tcp_t reading with uv_read_start: alloc_cb mallocs the
 * suggested size (64 KiB), read_cb hands the filled buffer to uv_write, and
 * the write callback frees the buffer and the request (libuv's own
 * benchmark echo server does the same). An idle connection owns no buffer.
 * SIGTERM / SIGINT close every handle and exit with 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

struct write_req {
    uv_write_t req;
    uv_buf_t buf;
};

static uv_loop_t* loop;
static uv_tcp_t server;
static uv_signal_t sigint_handle;
static uv_signal_t sigterm_handle;

static void check(int status, const char* what) {
    if (status < 0) {
        fprintf(stderr, "%s: %s\n", what, uv_strerror(status));
        exit(1);
    }
}

static void on_close(uv_handle_t* handle) {
    free(handle);
}

static void on_alloc(uv_handle_t* handle, size_t suggested_size, uv_buf_t* buf) {
    (void)handle;
    buf->base = malloc(suggested_size);
    buf->len = buf->base ? suggested_size : 0;
}

static void on_write(uv_write_t* req, int status) {
    struct write_req* w = (struct write_req*)req;
    uv_handle_t* stream = (uv_handle_t*)req->handle;
    free(w->buf.base);
    free(w);
    if (status < 0 && !uv_is_closing(stream))
        uv_close(stream, on_close);
}

static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    if (nread > 0) {
        struct write_req* w = malloc(sizeof *w);
        if (!w) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        w->buf = uv_buf_init(buf->base, (unsigned)nread);
        if (uv_write(&w->req, stream, &w->buf, 1, on_write) < 0) {
            free(w->buf.base);
            free(w);
            uv_close((uv_handle_t*)stream, on_close);
        }
        return;
    }
    free(buf->base);
    if (nread < 0 && !uv_is_closing((uv_handle_t*)stream))
        uv_close((uv_handle_t*)stream, on_close); /* UV_EOF or an error */
}

static void on_connection(uv_stream_t* listener, int status) {
    if (status < 0) {
        fprintf(stderr, "listen: %s\n", uv_strerror(status));
        return;
    }
    uv_tcp_t* client = malloc(sizeof *client);
    if (!client) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uv_tcp_init(loop, client);
    if (uv_accept(listener, (uv_stream_t*)client) < 0) {
        uv_close((uv_handle_t*)client, on_close);
        return;
    }
    uv_tcp_nodelay(client, 1);
    uv_read_start((uv_stream_t*)client, on_alloc, on_read);
}

static void close_any(uv_handle_t* handle, void* arg) {
    (void)arg;
    if (uv_is_closing(handle))
        return;
    /* The connections were malloc'ed; the listener and signals are static. */
    if (handle->type == UV_TCP && handle != (uv_handle_t*)&server)
        uv_close(handle, on_close);
    else
        uv_close(handle, NULL);
}

static void on_signal(uv_signal_t* handle, int signum) {
    (void)handle;
    (void)signum;
    uv_walk(loop, close_any, NULL);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();

    struct sockaddr_in addr;
    check(uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr), "address");
    check(uv_tcp_init(loop, &server), "tcp_init");
    /* libuv sets SO_REUSEADDR on TCP sockets it binds. */
    check(uv_tcp_bind(&server, (const struct sockaddr*)&addr, 0), "bind");
    check(uv_listen((uv_stream_t*)&server, SOMAXCONN, on_connection), "listen");

    check(uv_signal_init(loop, &sigint_handle), "signal_init");
    check(uv_signal_start(&sigint_handle, on_signal, SIGINT), "signal_start");
    check(uv_signal_init(loop, &sigterm_handle), "signal_init");
    check(uv_signal_start(&sigterm_handle, on_signal, SIGTERM), "signal_start");

    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}

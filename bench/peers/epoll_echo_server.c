/* A minimal hand-written epoll echo server: the near-physical-limit reference
 * of ./run.sh bench-net.
 *
 * Usage: epoll_echo_server PORT [et|lt]
 *
 * Single-threaded, listens on 127.0.0.1:PORT, reads into ONE static 64 KiB
 * buffer and writes straight back: one read() and one write() per message,
 * no allocation and no epoll_ctl in the steady state.
 *
 * et (the default) registers each connection once for EPOLLIN | EPOLLOUT |
 * EPOLLET and never touches the registration again. It reads until a read
 * comes back short: a short read emptied the receive queue, so any later byte
 * raises a new edge, and no read() ending in EAGAIN is needed.
 * lt registers EPOLLIN only (level-triggered), does one read() per event, and
 * switches to EPOLLOUT while a partial write is being flushed.
 * Both were measured by ./run.sh bench-net (docs/benchmarks-net.md); et is the
 * default because it was not slower and needs no epoll_ctl for backpressure.
 *
 * Partial writes are handled: the unsent bytes are copied to a per-connection
 * heap buffer and the connection stops reading until they are flushed. Idle
 * connections own no buffer. SIGTERM / SIGINT (through a signalfd) end the
 * loop, free everything and exit with 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

enum { buffer_size = 64 * 1024, max_events = 256 };

/* Unsent bytes of one connection (only while a write was partial). */
struct pending {
    char* data;
    size_t size;
    size_t offset;
};

static char buffer[buffer_size];
static struct pending* pendings; /* indexed by fd, grown on demand */
static size_t pendings_size;
static int ep;
static int edge_triggered = 1;

static void die(const char* what) {
    perror(what);
    exit(1);
}

static struct pending* pending_of(int fd) {
    if ((size_t)fd >= pendings_size) {
        size_t size = pendings_size ? pendings_size : 1024;
        while (size <= (size_t)fd)
            size *= 2;
        struct pending* grown = realloc(pendings, size * sizeof *grown);
        if (!grown)
            die("realloc");
        memset(grown + pendings_size, 0, (size - pendings_size) * sizeof *grown);
        pendings = grown;
        pendings_size = size;
    }
    return &pendings[fd];
}

static int has_pending(int fd) {
    return (size_t)fd < pendings_size && pendings[fd].data != NULL;
}

static void close_connection(int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    if ((size_t)fd < pendings_size) {
        free(pendings[fd].data);
        pendings[fd] = (struct pending){0};
    }
}

static void set_interest(int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
        die("epoll_ctl(MOD)");
}

/* Writes data[0, size). Returns 1 when all of it went out, 0 when the rest was
 * kept as pending (EAGAIN), -1 when the connection failed and was closed. */
static int send_all(int fd, const char* data, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            struct pending* p = pending_of(fd);
            p->data = malloc(size - done);
            if (!p->data)
                die("malloc");
            memcpy(p->data, data + done, size - done);
            p->size = size - done;
            p->offset = 0;
            if (!edge_triggered)
                set_interest(fd, EPOLLOUT);
            return 0;
        } else {
            close_connection(fd);
            return -1;
        }
    }
    return 1;
}

/* Flushes the pending bytes. Returns 1 when flushed, 0 when some are left
 * (EAGAIN), -1 when the connection failed and was closed. */
static int flush(int fd) {
    struct pending* p = &pendings[fd];
    while (p->offset < p->size) {
        ssize_t n = write(fd, p->data + p->offset, p->size - p->offset);
        if (n > 0) {
            p->offset += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return 0;
        } else {
            close_connection(fd);
            return -1;
        }
    }
    free(p->data);
    *p = (struct pending){0};
    if (!edge_triggered)
        set_interest(fd, EPOLLIN);
    return 1;
}

/* Reads and echoes: once (level-triggered) or until a short read (edge). */
static void echo(int fd) {
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n > 0) {
            if (send_all(fd, buffer, (size_t)n) <= 0)
                return; /* pending or closed: stop reading */
            if (!edge_triggered || (size_t)n < sizeof buffer)
                return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else {
            close_connection(fd); /* EOF or an error */
            return;
        }
    }
}

static void on_event(int fd) {
    if (has_pending(fd)) {
        /* Flushing: EPOLLOUT, or EPOLLHUP/EPOLLERR that write() reports. With
         * edges, reading resumes once flushed: its EPOLLIN edge may be gone. */
        if (flush(fd) <= 0 || !edge_triggered)
            return;
    }
    echo(fd); /* EPOLLIN, EPOLLHUP or EPOLLERR: read() tells which */
}

static void on_acceptable(int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("accept4"); /* EMFILE etc.: try again on the next event */
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = edge_triggered ? EPOLLIN | EPOLLOUT | EPOLLET : EPOLLIN,
                                 .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl(ADD)");
    }
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3 ||
        (argc == 3 && strcmp(argv[2], "et") != 0 && strcmp(argv[2], "lt") != 0)) {
        fprintf(stderr, "usage: %s PORT [et|lt]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    edge_triggered = argc < 3 || strcmp(argv[2], "et") == 0;

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        die("signalfd");

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0)
        die("socket");
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr*)&addr, sizeof addr) < 0)
        die("bind");
    if (listen(listener, SOMAXCONN) < 0)
        die("listen");

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) < 0)
        die("epoll_ctl(listener)");
    ev.data.fd = sfd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
        die("epoll_ctl(signalfd)");

    struct epoll_event events[max_events];
    int running = 1;
    while (running) {
        int n = epoll_wait(ep, events, max_events, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == listener)
                on_acceptable(listener);
            else if (fd == sfd)
                running = 0;
            else
                on_event(fd);
        }
    }

    /* The accepted sockets are closed by exit. */
    for (size_t fd = 0; fd < pendings_size; ++fd)
        free(pendings[fd].data);
    free(pendings);
    close(ep);
    close(listener);
    close(sfd);
    return 0;
}

// The reference for scripts/bench's HTTP row: a small HTTP/1.1 server on the kernel's own
// TCP, one thread and epoll, answering every request on a connection (keep-alive,
// pipelined ones in order) with the same 1 KiB page. No parsing beyond finding each
// request's end (a blank line); requests with bodies are not expected.
//   http_epoll PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_CONNECTIONS = 4096, BUFFER = 16384 };

typedef struct connection {
    int fd;
    size_t held;              /* bytes of request data not yet answered */
    char buffer[BUFFER];
} connection;

static char response[2048];
static size_t response_length;

static void close_connection(int epoll, connection *c) {
    epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Reads what there is; answers each complete request; false when the connection is over. */
static int serve(connection *c) {
    for (;;) {
        ssize_t n = read(c->fd, c->buffer + c->held, BUFFER - c->held);
        if (n == 0) return 0;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        c->held += (size_t)n;
        char *start = c->buffer, *end;
        char out[BUFFER * 2];
        size_t out_length = 0;
        while ((end = memmem(start, c->held - (size_t)(start - c->buffer), "\r\n\r\n", 4)) != NULL) {
            if (out_length + response_length > sizeof out) break;
            memcpy(out + out_length, response, response_length);
            out_length += response_length;
            start = end + 4;
        }
        size_t left = c->held - (size_t)(start - c->buffer);
        memmove(c->buffer, start, left);
        c->held = left;
        if (c->held == BUFFER) return 0;  /* a request too large: drop the connection */
        size_t sent = 0;
        while (sent < out_length) {
            ssize_t w = write(c->fd, out + sent, out_length - sent);
            if (w < 0) {
                if (errno == EAGAIN) continue;  /* the client reads: a short spin is enough here */
                return 0;
            }
            sent += (size_t)w;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: http_epoll PORT\n");
        return 2;
    }
    char body[1024];
    memset(body, 'x', sizeof body);
    response_length = (size_t)snprintf(response, sizeof response,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: keep-alive\r\nContent-Length: %zu\r\n\r\n", sizeof body);
    memcpy(response + response_length, body, sizeof body);
    response_length += sizeof body;

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                                   .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 1024) != 0) {
        perror("http_epoll: listen");
        return 1;
    }
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epoll, events, 256, -1);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                int fd;
                while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                    connection *c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event add = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &add);
                }
                continue;
            }
            connection *c = events[i].data.ptr;
            if (!serve(c)) close_connection(epoll, c);
        }
    }
}

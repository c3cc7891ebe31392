/*
 * udp_client: the kernel-side load generator of scripts/bench.
 *
 * Sends numbered UDP datagrams to an echo responder, keeping a window of N outstanding:
 * when a reply comes back, or a datagram's timeout expires (counted as lost), the freed
 * slot sends the next one. Runs for a warm-up and then a measured interval; only
 * datagrams sent inside the measured interval count. Prints one machine-readable line:
 *
 *   rtt_per_s=… p50_us=… p99_us=… sent=… received=… lost=…
 *
 * Usage: udp_client [--addr A] [--port P] [--window N] [--duration S] [--warmup S]
 *                   [--size BYTES] [--timeout-ms MS]
 *
 * Payload: sequence number, send time and slot index, then filler up to --size bytes.
 * Sends and receives are batched (sendmmsg/recvmmsg) so the client costs few syscalls.
 * A reply whose sequence does not match its slot (a late reply to a datagram already
 * counted as lost) is ignored.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WINDOW 4096
#define MAX_PAYLOAD 1472
#define BATCH 64  /* datagrams per sendmmsg/recvmmsg */

struct payload_header {
    uint64_t sequence;
    uint64_t sent_ns;
    uint32_t slot;
} __attribute__((packed));

struct slot {
    int busy;
    int measured;       /* sent inside the measured interval */
    uint64_t sequence;
    uint64_t sent_ns;
};

struct options {
    const char *addr;
    int port;
    int window;
    double duration_s;
    double warmup_s;
    int size;
    int timeout_ms;
};

struct results {
    uint64_t sent, received, lost, late;
    uint64_t *rtt_ns;
    size_t rtt_count, rtt_capacity;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "udp_client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: udp_client [--addr A] [--port P] [--window N] [--duration S] "
                    "[--warmup S] [--size BYTES] [--timeout-ms MS]\n");
    exit(2);
}

static struct options parse_options(int argc, char **argv) {
    struct options o = {"198.18.0.2", 7, 1, 10.0, 0.5, 64, 200};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *key = argv[i], *value = argv[++i];
        if (!strcmp(key, "--addr")) o.addr = value;
        else if (!strcmp(key, "--port")) o.port = atoi(value);
        else if (!strcmp(key, "--window")) o.window = atoi(value);
        else if (!strcmp(key, "--duration")) o.duration_s = atof(value);
        else if (!strcmp(key, "--warmup")) o.warmup_s = atof(value);
        else if (!strcmp(key, "--size")) o.size = atoi(value);
        else if (!strcmp(key, "--timeout-ms")) o.timeout_ms = atoi(value);
        else usage();
    }
    if (o.window < 1 || o.window > MAX_WINDOW) {
        fprintf(stderr, "udp_client: --window must be 1...%d\n", MAX_WINDOW);
        exit(2);
    }
    if (o.size < (int)sizeof(struct payload_header) || o.size > MAX_PAYLOAD) {
        fprintf(stderr, "udp_client: --size must be %zu...%d\n", sizeof(struct payload_header), MAX_PAYLOAD);
        exit(2);
    }
    if (o.duration_s <= 0 || o.warmup_s < 0 || o.timeout_ms < 1 || o.port < 1 || o.port > 65535) usage();
    return o;
}

static void record_rtt(struct results *r, uint64_t rtt) {
    if (r->rtt_count == r->rtt_capacity) {
        r->rtt_capacity = r->rtt_capacity ? r->rtt_capacity * 2 : 1 << 16;
        r->rtt_ns = realloc(r->rtt_ns, r->rtt_capacity * sizeof *r->rtt_ns);
        if (!r->rtt_ns) die("realloc");
    }
    r->rtt_ns[r->rtt_count++] = rtt;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile over sorted values, in microseconds. */
static double percentile_us(const uint64_t *sorted, size_t count, double p) {
    if (count == 0) return 0;
    size_t rank = (size_t)(p / 100.0 * (double)count + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > count) rank = count;
    return (double)sorted[rank - 1] / 1000.0;
}

/* The slots waiting to send, and sendmmsg batches of them. */
struct sender {
    int fd, size;
    uint8_t *buffers;           /* one payload per slot */
    uint32_t *ready;            /* slot indexes free to send */
    int ready_count;
    uint64_t next_sequence;
    struct mmsghdr messages[BATCH];
    struct iovec iovecs[BATCH];
};

/* Sends from ready slots until none is left or the socket is full. */
static void send_ready(struct sender *snd, struct slot *slots, uint64_t measure_from, uint64_t measure_until,
                       struct results *r) {
    while (snd->ready_count > 0) {
        int count = snd->ready_count < BATCH ? snd->ready_count : BATCH;
        uint64_t now = now_ns();
        for (int i = 0; i < count; i++) {
            uint32_t index = snd->ready[snd->ready_count - 1 - i];
            uint8_t *payload = snd->buffers + (size_t)index * (size_t)snd->size;
            struct payload_header h = {snd->next_sequence + (uint64_t)i, now, index};
            memcpy(payload, &h, sizeof h);
            snd->iovecs[i] = (struct iovec){payload, (size_t)snd->size};
            snd->messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &snd->iovecs[i], .msg_iovlen = 1}};
        }
        int sent = sendmmsg(snd->fd, snd->messages, (unsigned)count, 0);
        if (sent < 0) {
            if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED || errno == EINTR) return;
            die("sendmmsg");
        }
        int measured = now >= measure_from && now < measure_until;
        for (int i = 0; i < sent; i++) {
            uint32_t index = snd->ready[snd->ready_count - 1 - i];
            slots[index] = (struct slot){1, measured, snd->next_sequence + (uint64_t)i, now};
        }
        if (measured) r->sent += (uint64_t)sent;
        snd->next_sequence += (uint64_t)sent;
        /* unsent ones keep their place at the top of the stack */
        memmove(&snd->ready[snd->ready_count - count], &snd->ready[snd->ready_count - count + sent],
                (size_t)(count - sent) * sizeof *snd->ready);
        snd->ready_count -= sent;
        if (sent < count) return;
    }
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    if (inet_pton(AF_INET, o.addr, &peer.sin_addr) != 1) {
        fprintf(stderr, "udp_client: bad address %s\n", o.addr);
        return 2;
    }
    if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0) die("connect");

    struct slot *slots = calloc((size_t)o.window, sizeof *slots);
    struct sender snd = {.fd = fd, .size = o.size, .next_sequence = 1};
    snd.buffers = malloc((size_t)o.window * (size_t)o.size);
    snd.ready = malloc((size_t)o.window * sizeof *snd.ready);
    if (!slots || !snd.buffers || !snd.ready) die("malloc");
    for (size_t i = 0; i < (size_t)o.window * (size_t)o.size; i++) snd.buffers[i] = (uint8_t)i;
    for (int i = o.window - 1; i >= 0; i--) snd.ready[snd.ready_count++] = (uint32_t)i;

    static uint8_t in[BATCH][2048];
    struct mmsghdr received[BATCH];
    struct iovec received_iov[BATCH];

    struct results r = {0};
    const uint64_t start = now_ns();
    const uint64_t measure_from = start + (uint64_t)(o.warmup_s * 1e9);
    const uint64_t measure_until = measure_from + (uint64_t)(o.duration_s * 1e9);
    const uint64_t timeout_ns = (uint64_t)o.timeout_ms * 1000000u;

    for (;;) {
        uint64_t now = now_ns();
        int sending = now < measure_until;
        if (sending) send_ready(&snd, slots, measure_from, measure_until, &r);

        /* Expire timed-out slots (lost) and find the next deadline. */
        uint64_t next_deadline = UINT64_MAX;
        int busy = 0;
        now = now_ns();
        for (uint32_t i = 0; i < (uint32_t)o.window; i++) {
            struct slot *s = &slots[i];
            if (!s->busy) continue;
            if (now - s->sent_ns >= timeout_ns) {
                if (s->measured) r.lost++;
                s->busy = 0;
                snd.ready[snd.ready_count++] = i;
                continue;
            }
            busy = 1;
            if (s->sent_ns + timeout_ns < next_deadline) next_deadline = s->sent_ns + timeout_ns;
        }
        if (!busy && !sending) break;

        uint64_t wake = next_deadline;
        if (sending && measure_until < wake) wake = measure_until;
        int wait_ms = wake <= now ? 0 : (int)((wake - now + 999999) / 1000000);
        if (sending && snd.ready_count > 0 && wait_ms > 1) wait_ms = 1;  /* the socket was full: retry soon */
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, wait_ms) < 0 && errno != EINTR) die("poll");

        for (;;) {
            for (int i = 0; i < BATCH; i++) {
                received_iov[i] = (struct iovec){in[i], sizeof in[i]};
                received[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &received_iov[i], .msg_iovlen = 1}};
            }
            int count = recvmmsg(fd, received, BATCH, MSG_DONTWAIT, NULL);
            if (count < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                if (errno == ECONNREFUSED) continue;  /* an ICMP error about an earlier datagram */
                die("recvmmsg");
            }
            uint64_t arrived = now_ns();
            for (int i = 0; i < count; i++) {
                struct payload_header h;
                if (received[i].msg_len < sizeof h) continue;
                memcpy(&h, in[i], sizeof h);
                if (h.slot >= (uint32_t)o.window) continue;
                struct slot *s = &slots[h.slot];
                if (!s->busy || s->sequence != h.sequence) {
                    r.late++;
                    continue;
                }
                if (s->measured) {
                    r.received++;
                    record_rtt(&r, arrived - s->sent_ns);
                }
                s->busy = 0;
                snd.ready[snd.ready_count++] = h.slot;
            }
            if (count < BATCH) break;
        }
    }

    qsort(r.rtt_ns, r.rtt_count, sizeof *r.rtt_ns, compare_u64);
    printf("rtt_per_s=%.0f p50_us=%.1f p99_us=%.1f sent=%llu received=%llu lost=%llu late=%llu\n",
           (double)r.received / o.duration_s, percentile_us(r.rtt_ns, r.rtt_count, 50),
           percentile_us(r.rtt_ns, r.rtt_count, 99), (unsigned long long)r.sent,
           (unsigned long long)r.received, (unsigned long long)r.lost, (unsigned long long)r.late);
    return 0;
}

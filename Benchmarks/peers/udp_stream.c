/*
 * udp_stream: a kernel-side stream of numbered UDP datagrams, for hot-reload tests and
 * scripts/reload-bench.
 *
 * Sends datagrams whose payload is their sequence number in decimal ("1", "2", ...) to
 * an echo handler at a steady rate, receives the replies concurrently (non-blocking,
 * poll), and at the end prints what came back. The handler under test answers
 * "FORM:SEQ:COUNTER" (e.g. "v2:1234:1240"): FORM shows which version of the script
 * answered, COUNTER a count it keeps in tapir.state.
 *
 * It can also rename files at given moments of the stream (--rename-at), so a script is
 * replaced mid-stream at a time measured on the same clock as the replies.
 *
 * Usage: udp_stream [--addr A] [--port P] [--rate PER_S] [--count N | --duration S]
 *                   [--tail-ms MS] [--rename-at MS:FROM:TO]... [--dump]
 *
 * Before the stream, one datagram with sequence 0 is sent (and resent every 200 ms, for
 * up to 5 s) until it is answered, so the neighbour entry is resolved before timing
 * starts; it is not counted.
 *
 * Output (one line each, key=value):
 *   summary sent=… replied_once=… duplicates=… missing=… unparsed=… counter_breaks=…
 *           form_regressions=… rate_per_s=… max_gap_us=…
 *   change seq=… form=… counter=…          (each point where the reply form changes, in
 *                                           sequence order; the first line is the start)
 *   reload n=… latency_us=… first_seq=… max_gap_us=… dropped=…
 *                                          (per --rename-at: from the rename to the
 *                                           arrival of the first reply in the n-th new
 *                                           form, the largest gap between consecutive
 *                                           replies from the rename to 100 ms after that
 *                                           first reply, and the datagrams sent in that
 *                                           window left unanswered)
 *   reply seq=… form=… counter=…           (with --dump, one per sequence; form "-" when
 *                                           missing)
 * counter_breaks: consecutive answered sequences whose counters do not differ by exactly
 * one. form_regressions: replies, in sequence order, in a form seen earlier than the
 * one before them (a v1 after a v2).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_FORMS 64
#define MAX_RENAMES 16
#define FORM_LENGTH 16
#define GAP_WINDOW_NS 100000000ull /* 100 ms after the first new reply */

struct rename_step {
    uint64_t at_ms;
    const char *from, *to;
    uint64_t done_ns; /* 0 until done */
};

struct options {
    const char *addr;
    int port;
    double rate;
    uint64_t count;
    double duration_s;
    int tail_ms;
    int dump;
    struct rename_step renames[MAX_RENAMES];
    int rename_count;
};

/* What came back for one sequence number. */
struct record {
    uint32_t replies;
    int16_t form; /* index in forms[], -1: none */
    uint64_t counter;
    uint64_t sent_ns;
    uint64_t arrived_ns; /* first reply */
};

static char forms[MAX_FORMS][FORM_LENGTH];
static int form_count;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "udp_stream: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: udp_stream [--addr A] [--port P] [--rate PER_S] [--count N | --duration S] "
                    "[--tail-ms MS] [--rename-at MS:FROM:TO]... [--dump]\n");
    exit(2);
}

static struct rename_step parse_rename(char *value) {
    char *first = strchr(value, ':');
    char *second = first ? strchr(first + 1, ':') : NULL;
    if (!first || !second) usage();
    *first = 0;
    *second = 0;
    return (struct rename_step){strtoull(value, NULL, 10), first + 1, second + 1, 0};
}

static struct options parse_options(int argc, char **argv) {
    struct options o = {.addr = "198.18.0.2", .port = 7, .rate = 10000, .count = 0, .duration_s = 3,
                        .tail_ms = 500};
    for (int i = 1; i < argc; i++) {
        const char *key = argv[i];
        if (!strcmp(key, "--dump")) { o.dump = 1; continue; }
        if (i + 1 >= argc) usage();
        char *value = argv[++i];
        if (!strcmp(key, "--addr")) o.addr = value;
        else if (!strcmp(key, "--port")) o.port = atoi(value);
        else if (!strcmp(key, "--rate")) o.rate = atof(value);
        else if (!strcmp(key, "--count")) o.count = strtoull(value, NULL, 10);
        else if (!strcmp(key, "--duration")) o.duration_s = atof(value);
        else if (!strcmp(key, "--tail-ms")) o.tail_ms = atoi(value);
        else if (!strcmp(key, "--rename-at")) {
            if (o.rename_count == MAX_RENAMES) usage();
            o.renames[o.rename_count++] = parse_rename(value);
        } else usage();
    }
    if (o.rate < 1 || o.port < 1 || o.port > 65535 || o.tail_ms < 0 || o.duration_s <= 0) usage();
    if (o.count == 0) o.count = (uint64_t)(o.rate * o.duration_s);
    if (o.count == 0 || o.count > 100000000ull) usage();
    return o;
}

static int form_index(const char *text, size_t length) {
    if (length == 0 || length >= FORM_LENGTH) return -1;
    for (int i = 0; i < form_count; i++)
        if (strlen(forms[i]) == length && !memcmp(forms[i], text, length)) return i;
    if (form_count == MAX_FORMS) return -1;
    memcpy(forms[form_count], text, length);
    forms[form_count][length] = 0;
    return form_count++;
}

/* Parses "FORM:SEQ:COUNTER"; returns 0 when the text is not of that form. */
static int parse_reply(const char *text, size_t length, int *form, uint64_t *sequence, uint64_t *counter) {
    char buffer[128];
    if (length == 0 || length >= sizeof buffer) return 0;
    memcpy(buffer, text, length);
    buffer[length] = 0;
    char *first = strchr(buffer, ':');
    char *second = first ? strchr(first + 1, ':') : NULL;
    if (!first || !second) return 0;
    char *end;
    errno = 0;
    *sequence = strtoull(first + 1, &end, 10);
    if (end != second || errno) return 0;
    *counter = strtoull(second + 1, &end, 10);
    if (*end != 0 || end == second + 1 || errno) return 0;
    *form = form_index(buffer, (size_t)(first - buffer));
    return *form >= 0;
}

struct stream {
    int fd;
    struct options o;
    struct record *records; /* index = sequence, 1...count */
    uint64_t unparsed, stray, warm_counter;
    int warmed;
};

/* Reads every reply waiting on the socket. */
static void receive_all(struct stream *s) {
    static char in[BATCH][256];
    struct mmsghdr messages[BATCH];
    struct iovec iovecs[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iovecs[i] = (struct iovec){in[i], sizeof in[i]};
            messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iovecs[i], .msg_iovlen = 1}};
        }
        int count = recvmmsg(s->fd, messages, BATCH, MSG_DONTWAIT, NULL);
        if (count < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            if (errno == ECONNREFUSED) continue; /* an ICMP error about an earlier datagram */
            die("recvmmsg");
        }
        uint64_t arrived = now_ns();
        for (int i = 0; i < count; i++) {
            int form;
            uint64_t sequence, counter;
            if (!parse_reply(in[i], messages[i].msg_len, &form, &sequence, &counter)) {
                s->unparsed++;
                continue;
            }
            if (sequence == 0) {
                s->warmed = 1;
                continue;
            }
            if (sequence > s->o.count) {
                s->stray++;
                continue;
            }
            struct record *r = &s->records[sequence];
            if (r->replies++ == 0) {
                r->form = (int16_t)form;
                r->counter = counter;
                r->arrived_ns = arrived;
            }
        }
        if (count < BATCH) return;
    }
}

static void send_sequences(struct stream *s, uint64_t first, uint64_t last, uint64_t now) {
    static char out[BATCH][24];
    struct mmsghdr messages[BATCH];
    struct iovec iovecs[BATCH];
    while (first <= last) {
        int count = 0;
        for (uint64_t sequence = first; sequence <= last && count < BATCH; sequence++, count++) {
            int length = snprintf(out[count], sizeof out[count], "%" PRIu64, sequence);
            iovecs[count] = (struct iovec){out[count], (size_t)length};
            messages[count] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iovecs[count], .msg_iovlen = 1}};
        }
        int sent = sendmmsg(s->fd, messages, (unsigned)count, 0);
        if (sent < 0) {
            if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR || errno == ECONNREFUSED) sent = 0;
            else die("sendmmsg");
        }
        /* a datagram the socket refused is still counted as sent (and will be missing):
           the stream keeps its pace instead of bunching up */
        for (int i = 0; i < count; i++) s->records[first + (uint64_t)i].sent_ns = now;
        first += (uint64_t)count;
    }
}

static void warm_up(struct stream *s) {
    uint64_t deadline = now_ns() + 5000000000ull, next_send = 0;
    while (!s->warmed) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            fprintf(stderr, "udp_stream: no answer to the warm-up datagram within 5 s\n");
            exit(1);
        }
        if (now >= next_send) {
            if (send(s->fd, "0", 1, 0) < 0 && errno != EAGAIN && errno != ECONNREFUSED) die("send");
            next_send = now + 200000000ull;
        }
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 20) < 0 && errno != EINTR) die("poll");
        receive_all(s);
    }
}

static void run_stream(struct stream *s) {
    const uint64_t start = now_ns();
    const double interval_ns = 1e9 / s->o.rate;
    uint64_t next = 1; /* next sequence to send */
    uint64_t tail_until = 0;
    for (;;) {
        uint64_t now = now_ns();
        for (int i = 0; i < s->o.rename_count; i++) {
            struct rename_step *step = &s->o.renames[i];
            if (step->done_ns || now < start + step->at_ms * 1000000ull) continue;
            step->done_ns = now_ns();
            if (rename(step->from, step->to) < 0) die(step->from);
        }
        if (next <= s->o.count) {
            uint64_t due = (uint64_t)((double)(now - start) / interval_ns) + 1;
            if (due > s->o.count) due = s->o.count;
            if (due >= next) {
                send_sequences(s, next, due, now);
                next = due + 1;
            }
            if (next > s->o.count) tail_until = now + (uint64_t)s->o.tail_ms * 1000000ull;
        } else if (now >= tail_until) {
            break;
        }
        struct pollfd p = {s->fd, POLLIN, 0};
        /* wake at least every 0.1 ms while sending, so the pace stays even */
        struct timespec timeout = {0, next <= s->o.count ? 100000 : 1000000};
        if (ppoll(&p, 1, &timeout, NULL) < 0 && errno != EINTR) die("ppoll");
        receive_all(s);
    }
}

static void report(struct stream *s) {
    const struct options *o = &s->o;
    uint64_t once = 0, duplicates = 0, missing = 0, counter_breaks = 0, regressions = 0;
    int latest_form = -1; /* the newest form seen so far, by order of first appearance */
    int previous_form = -1;
    uint64_t previous_counter = 0, previous_sequence = 0;
    uint64_t first_sent = 0, last_sent = 0;
    for (uint64_t sequence = 1; sequence <= o->count; sequence++) {
        struct record *r = &s->records[sequence];
        if (r->sent_ns) {
            if (!first_sent) first_sent = r->sent_ns;
            last_sent = r->sent_ns;
        }
        if (r->replies == 0) { missing++; continue; }
        if (r->replies == 1) once++; else duplicates++;
        if (r->form != previous_form)
            printf("change seq=%" PRIu64 " form=%s counter=%" PRIu64 "\n", sequence, forms[r->form], r->counter);
        if (r->form < latest_form) regressions++; /* forms are numbered by first appearance */
        if (r->form > latest_form) latest_form = r->form;
        if (previous_sequence && r->counter != previous_counter + 1) counter_breaks++;
        previous_form = r->form;
        previous_counter = r->counter;
        previous_sequence = sequence;
    }

    /* Replies in arrival order, for gaps: sequences are answered in order, so the
       arrival times of answered sequences are (nearly) sorted; sort to be sure. */
    uint64_t *arrivals = malloc((size_t)(o->count + 1) * sizeof *arrivals);
    if (!arrivals) die("malloc");
    size_t n = 0;
    for (uint64_t sequence = 1; sequence <= o->count; sequence++)
        if (s->records[sequence].replies) arrivals[n++] = s->records[sequence].arrived_ns;
    for (size_t i = 1; i < n; i++) { /* insertion sort: almost sorted input */
        uint64_t v = arrivals[i];
        size_t j = i;
        while (j > 0 && arrivals[j - 1] > v) { arrivals[j] = arrivals[j - 1]; j--; }
        arrivals[j] = v;
    }
    uint64_t max_gap = 0;
    for (size_t i = 1; i < n; i++)
        if (arrivals[i] - arrivals[i - 1] > max_gap) max_gap = arrivals[i] - arrivals[i - 1];

    double seconds = last_sent > first_sent ? (double)(last_sent - first_sent) / 1e9 : 0;
    printf("summary sent=%" PRIu64 " replied_once=%" PRIu64 " duplicates=%" PRIu64 " missing=%" PRIu64
           " unparsed=%" PRIu64 " stray=%" PRIu64 " counter_breaks=%" PRIu64 " form_regressions=%" PRIu64
           " rate_per_s=%.0f max_gap_us=%.1f\n",
           o->count, once, duplicates, missing, s->unparsed, s->stray, counter_breaks, regressions,
           seconds > 0 ? (double)(o->count - 1) / seconds : 0, (double)max_gap / 1000.0);

    /* Per rename n: the first reply (by arrival) in form n+1 (forms numbered by first
       appearance, the start form being 0). */
    for (int i = 0; i < o->rename_count; i++) {
        const struct rename_step *step = &o->renames[i];
        int form = i + 1;
        uint64_t first_arrival = 0, first_sequence = 0;
        for (uint64_t sequence = 1; sequence <= o->count; sequence++) {
            struct record *r = &s->records[sequence];
            if (r->replies && r->form == form && (!first_arrival || r->arrived_ns < first_arrival)) {
                first_arrival = r->arrived_ns;
                first_sequence = sequence;
            }
        }
        if (!first_arrival || first_arrival < step->done_ns) {
            printf("reload n=%d latency_us=- first_seq=- max_gap_us=- dropped=-\n", i + 1);
            continue;
        }
        uint64_t window_end = first_arrival + GAP_WINDOW_NS, gap = 0, previous = 0, dropped = 0;
        for (size_t k = 0; k < n; k++) {
            if (arrivals[k] < step->done_ns || arrivals[k] > window_end) continue;
            if (previous && arrivals[k] - previous > gap) gap = arrivals[k] - previous;
            previous = arrivals[k];
        }
        for (uint64_t sequence = 1; sequence <= o->count; sequence++) {
            struct record *r = &s->records[sequence];
            if (r->sent_ns >= step->done_ns && r->sent_ns <= window_end && r->replies == 0) dropped++;
        }
        printf("reload n=%d latency_us=%.1f first_seq=%" PRIu64 " max_gap_us=%.1f dropped=%" PRIu64 "\n", i + 1,
               (double)(first_arrival - step->done_ns) / 1000.0, first_sequence, (double)gap / 1000.0, dropped);
    }

    if (o->dump) {
        for (uint64_t sequence = 1; sequence <= o->count; sequence++) {
            struct record *r = &s->records[sequence];
            if (r->replies) printf("reply seq=%" PRIu64 " form=%s counter=%" PRIu64 " n=%u\n", sequence,
                                   forms[r->form], r->counter, r->replies);
            else printf("reply seq=%" PRIu64 " form=- counter=- n=0\n", sequence);
        }
    }
    free(arrivals);
}

int main(int argc, char **argv) {
    struct stream s = {.o = parse_options(argc, argv)};
    s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (s.fd < 0) die("socket");
    int buffer = 8 << 20;
    setsockopt(s.fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer); /* root: above rmem_max */
    setsockopt(s.fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer);
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.o.port)};
    if (inet_pton(AF_INET, s.o.addr, &peer.sin_addr) != 1) {
        fprintf(stderr, "udp_stream: bad address %s\n", s.o.addr);
        return 2;
    }
    if (connect(s.fd, (struct sockaddr *)&peer, sizeof peer) < 0) die("connect");
    s.records = calloc((size_t)s.o.count + 1, sizeof *s.records);
    if (!s.records) die("calloc");
    for (uint64_t i = 0; i <= s.o.count; i++) s.records[i].form = -1;

    warm_up(&s);
    run_stream(&s);
    report(&s);
    return 0;
}

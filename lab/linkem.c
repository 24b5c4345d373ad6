/* linkem.c: a two-port link emulator in user space, for lab/capture.sh.
 *
 * It joins two network interfaces like a cable with a router's queue in it:
 * every Ethernet frame that arrives on one port leaves on the other after
 * serialisation at RATE, a one-way DELAY plus a uniform JITTER, unless it is
 * lost (LOSS percent, independently per frame and per direction). Frames of
 * one direction never overtake each other (as netem with a rate), and a
 * direction's queue holds at most LIMIT frames (tail drop beyond that).
 * Random draws come from a seeded generator, one stream per direction, so a
 * given seed drops the same frame numbers every run.
 *
 * It exists because tc netem is not in every kernel (CONFIG_NET_SCH_NETEM);
 * it needs only AF_PACKET sockets. Run it as root inside the namespace that
 * holds both ports, with checksum and segmentation offloads off on the veth
 * ends (capture.sh does that), so every frame is a real one.
 *
 *   linkem PORT_A PORT_B DELAY_US JITTER_US LOSS_PERCENT RATE_BPS SEED [LIMIT]
 *
 * SIGTERM/SIGINT end it; it prints per-direction counts on stderr. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define MAX_FRAME 2048
#define MAX_LIMIT 4096

typedef struct {
    int64_t due;        /* CLOCK_MONOTONIC ns when it leaves */
    uint16_t len;
    uint8_t data[MAX_FRAME];
} frame;

typedef struct {
    int in, out;        /* sockets: read from in, write to out */
    frame *q;           /* ring of limit frames */
    int head, count;
    int64_t link_free;  /* when the serialiser is free again */
    int64_t last_due;   /* departure of the newest queued frame */
    uint64_t rng;
    uint64_t seen, lost, overflow, sent, send_err;
} direction;

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: small, seedable, good enough for loss and jitter draws. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unit(uint64_t *s) { return (double)(next_rand(s) >> 11) / 9007199254740992.0; }

static int open_port(const char *name)
{
    unsigned idx = if_nametoindex(name);
    if (!idx) {
        fprintf(stderr, "linkem: no interface %s\n", name);
        return -1;
    }
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd < 0) {
        perror("linkem: socket(AF_PACKET)");
        return -1;
    }
    struct sockaddr_ll sa = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)idx};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("linkem: bind");
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
        perror("linkem: PACKET_IGNORE_OUTGOING");
        return -1;
    }
    struct packet_mreq mr = {.mr_ifindex = (int)idx, .mr_type = PACKET_MR_PROMISC};
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
        perror("linkem: promiscuous mode");
        return -1;
    }
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    return fd;
}

static int64_t delay_ns, jitter_ns, rate_bps;
static double loss_p;
static int limit = 1000;

/* Read every frame waiting on d->in and queue or drop it. */
static void receive(direction *d)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(d->in, buf, sizeof buf, 0);
        if (n < 0) return;  /* EAGAIN or an error: nothing more now */
        int64_t t = now_ns();
        d->seen++;
        double r_loss = unit(&d->rng), r_jit = unit(&d->rng);   /* two draws per frame, always */
        if (loss_p > 0 && r_loss < loss_p) {
            d->lost++;
            continue;
        }
        if (d->count >= limit || n > MAX_FRAME) {
            d->overflow++;
            continue;
        }
        int64_t start = t > d->link_free ? t : d->link_free;
        int64_t tx = rate_bps > 0 ? (int64_t)((double)(n + 24) * 8.0 * 1e9 / (double)rate_bps) : 0;
        d->link_free = start + tx;
        int64_t due = d->link_free + delay_ns + (jitter_ns ? (int64_t)((2.0 * r_jit - 1.0) * (double)jitter_ns) : 0);
        if (due < d->last_due) due = d->last_due;   /* no reordering */
        if (due < t) due = t;
        d->last_due = due;
        frame *f = &d->q[(d->head + d->count) % limit];
        f->due = due;
        f->len = (uint16_t)n;
        memcpy(f->data, buf, (size_t)n);
        d->count++;
    }
}

/* Send the frames that are due; return the next due time or INT64_MAX. */
static int64_t transmit(direction *d)
{
    int64_t t = now_ns();
    while (d->count) {
        frame *f = &d->q[d->head];
        if (f->due > t) return f->due;
        if (send(d->out, f->data, f->len, 0) < 0) d->send_err++;
        else d->sent++;
        d->head = (d->head + 1) % limit;
        d->count--;
    }
    return INT64_MAX;
}

int main(int argc, char **argv)
{
    if (argc < 8 || argc > 9) {
        fprintf(stderr, "usage: linkem PORT_A PORT_B DELAY_US JITTER_US LOSS_PERCENT RATE_BPS SEED [LIMIT]\n");
        return 2;
    }
    delay_ns = strtoll(argv[3], NULL, 10) * 1000;
    jitter_ns = strtoll(argv[4], NULL, 10) * 1000;
    loss_p = strtod(argv[5], NULL) / 100.0;
    rate_bps = strtoll(argv[6], NULL, 10);
    uint64_t seed = strtoull(argv[7], NULL, 10);
    if (argc == 9) limit = atoi(argv[8]);
    if (delay_ns < 0 || jitter_ns < 0 || jitter_ns > delay_ns || loss_p < 0 || loss_p > 1 || rate_bps < 0 ||
        limit < 1 || limit > MAX_LIMIT) {
        fprintf(stderr, "linkem: bad parameters (jitter must not exceed delay, loss 0..100, limit 1..%d)\n", MAX_LIMIT);
        return 2;
    }
    int a = open_port(argv[1]), b = open_port(argv[2]);
    if (a < 0 || b < 0) return 1;
    direction d[2] = {{.in = a, .out = b, .rng = seed * 2 + 1}, {.in = b, .out = a, .rng = seed * 2 + 2}};
    for (int i = 0; i < 2; i++) {
        d[i].q = malloc(sizeof(frame) * (size_t)limit);
        if (!d[i].q) {
            fprintf(stderr, "linkem: out of memory\n");
            return 1;
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fprintf(stderr, "linkem: %s <-> %s delay %lld us jitter %lld us loss %g%% rate %lld bit/s seed %llu\n", argv[1],
            argv[2], (long long)(delay_ns / 1000), (long long)(jitter_ns / 1000), loss_p * 100, (long long)rate_bps,
            (unsigned long long)seed);
    struct pollfd pf[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    while (!stop) {
        int64_t next = transmit(&d[0]), n1 = transmit(&d[1]);
        if (n1 < next) next = n1;
        struct timespec ts, *tp = NULL;
        if (next != INT64_MAX) {
            int64_t wait = next - now_ns();
            if (wait < 0) wait = 0;
            ts.tv_sec = wait / 1000000000;
            ts.tv_nsec = wait % 1000000000;
            tp = &ts;
        }
        int r = ppoll(pf, 2, tp, NULL);
        if (r < 0 && errno != EINTR) {
            perror("linkem: ppoll");
            return 1;
        }
        if (r > 0) {
            if (pf[0].revents & POLLIN) receive(&d[0]);
            if (pf[1].revents & POLLIN) receive(&d[1]);
        }
    }
    for (int i = 0; i < 2; i++)
        fprintf(stderr, "linkem: %s -> %s: %llu frames, %llu lost, %llu queue drops, %llu sent, %llu send errors\n",
                argv[1 + i], argv[2 - i], (unsigned long long)d[i].seen, (unsigned long long)d[i].lost,
                (unsigned long long)d[i].overflow, (unsigned long long)d[i].sent, (unsigned long long)d[i].send_err);
    return 0;
}

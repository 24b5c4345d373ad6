/* test_app.c: application payloads (src/app.h), the bytes repair writes
 * around the ones a model generated.
 *
 * TLS records and HTTP messages whose learned start disagrees with the
 * segment (lengths that run past it, a line cut by N bytes, fill read as
 * header names) are written through app_write and parsed back here: records
 * tile the segment, handshake messages and hellos hold their lengths, the
 * HTTP head ends and the Content-Length counts the rest, and the learned
 * bytes that parse are kept. A capture of such segments goes through tshark
 * (skipped with a message when absent): no malformed packet, no expert
 * error, the messages dissected. */
#define _GNU_SOURCE /* memmem */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/app.h"
#include "netsynth/bytes.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"

enum { MAXLEN = 1500 + 8 };

/* The bytes at p begin with the text (its NULs included, not its end). */
#define STARTS(p, text) assert_memory_equal(p, text, sizeof text - 1)

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned be24(const uint8_t *p) { return (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2]; }

/* app_write of learned bytes into a zero-filled payload of len bytes (data
 * has room for 8 more, which it must not touch). */
static void write_payload(const app *a, uint8_t *data, int len, int from_server, const uint8_t *pay, int n_pay)
{
    memset(data, 0, (size_t)len);
    memset(data + len, 0xee, 8);
    app_write(a, NULL, data, len, from_server, 0x1234, pay, n_pay);
    for (int i = 0; i < 8; i++) assert_int_equal(data[len + i], 0xee);
}

/* A hello body of n bytes parses whole, or the test fails. */
static void check_hello(const uint8_t *b, unsigned n, int client)
{
    unsigned at = 34;
    assert_true(n > at);
    unsigned sid = b[at];
    assert_true(sid <= 32);
    at += 1 + sid;
    if (client) {
        unsigned suites = be16(b + at);
        assert_true(suites >= 2 && suites % 2 == 0);
        at += 2 + suites;
        assert_true(at < n);
        unsigned comp = b[at];
        assert_true(comp >= 1);
        at += 1 + comp;
    } else {
        at += 3;
    }
    assert_true(at <= n);
    if (at == n) return;
    unsigned ext = be16(b + at);
    at += 2;
    assert_int_equal(at + ext, n);
    while (at < n) {
        assert_true(at + 4 <= n);
        unsigned len = be16(b + at + 2);
        at += 4 + len;
        assert_true(at <= n);
    }
}

/* The records of p[0, len) tile it; returns how many, their types in types[]. */
static int check_records(const uint8_t *p, int len, uint8_t *types)
{
    int at = 0, k = 0;
    while (at < len) {
        assert_true(at + 5 <= len);
        assert_true(p[at] >= 20 && p[at] <= 23), assert_int_equal(p[at + 1], 3), assert_true(p[at + 2] <= 4);
        unsigned n = be16(p + at + 3);
        assert_true(n >= 1 && at + 5 + (int)n <= len);
        if (p[at] == 20) assert_int_equal(n, 1), assert_int_equal(p[at + 5], 1);
        if (p[at] == 22 && memchr("\x00\x01\x02\x04\x08\x0b\x0c\x0e\x10\x14", p[at + 5], 10)) { /* types repair completes */
            unsigned m = be24(p + at + 6) + 4;
            if (p[at + 5] == 0x0c && m + 4 == n) /* a ServerKeyExchange, then a ServerHelloDone */
                assert_int_equal(p[at + 5 + m], 0x0e), assert_int_equal(be24(p + at + 6 + m), 0);
            else
                assert_int_equal(m, n);
            if (p[at + 5] == 1 || p[at + 5] == 2) check_hello(p + at + 9, n - 4, p[at + 5] == 1);
        }
        types[k++] = p[at];
        at += 5 + (int)n;
    }
    return k;
}

/* 32 learned bytes of a ClientHello whose lengths (0xde, 0xda) are another
 * segment's: written into 120 bytes, one record of 115, a hello of 111 that
 * parses, version and random as learned. */
static void test_tls_client_hello_lengths(void **state)
{
    (void)state;
    static const uint8_t learned[32] = {0x16, 0x03, 0x01, 0x00, 0xde, 0x01, 0x00, 0x00, 0xda, 0x03, 0x01,
                                        0x57, 0xd1, 0x1f, 0xac, 0x75, 0x72, 0xc4, 0x96, 0x4f, 0x9f, 0xbe,
                                        0x1c, 0x2a, 0x11, 0xc0, 0x17, 0x6c, 0x8b, 0x98, 0x41, 0xbf};
    const app *tls = app_of(NS_PROTO_TCP, 443);
    assert_non_null(tls);
    uint8_t p[MAXLEN], types[64];
    write_payload(tls, p, 120, 0, learned, 32);
    assert_int_equal(check_records(p, 120, types), 1);
    assert_int_equal(be16(p + 3), 115), assert_int_equal(be24(p + 6), 111);
    assert_memory_equal(p + 9, learned + 9, 23); /* version and the learned random */
    assert_int_equal(p[0], 0x16), assert_int_equal(p[5], 1);

    /* The same start on any port (its bytes say TLS) */
    write_payload(NULL, p, 300, 0, learned, 32);
    assert_int_equal(check_records(p, 300, types), 1);
    /* odd sizes: a padding extension cannot take 1, 3, 4 or 5 bytes, the session id takes them */
    for (int len = 9 + 41; len < 9 + 41 + 12; len++) {
        write_payload(tls, p, len, 0, learned, 32);
        assert_int_equal(check_records(p, len, types), 1);
        assert_int_equal(types[0], 22);
    }
    /* too short for any hello: application data, not a hello that runs past its record */
    write_payload(tls, p, 40, 0, learned, 32);
    assert_int_equal(check_records(p, 40, types), 1);
    assert_int_equal(types[0], 23);
}

/* Lengths the bytes agree with stay; a record past the learned bytes is
 * application data to the segment's end; a change of cipher spec is one byte. */
static void test_tls_records_tile(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443);
    uint8_t p[MAXLEN], types[64];
    /* CCS, then an encrypted Finished of 40: both agree with a 51-byte segment */
    static const uint8_t ccs[16] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x16, 0x03, 0x03, 0x00, 0x28, 0x9e, 0x11, 0x2f, 0x70, 0x05};
    write_payload(tls, p, 51, 1, ccs, 16);
    assert_int_equal(check_records(p, 51, types), 2);
    /* the Finished's type (0x9e) is none tshark knows: kept, and the length after it the record's
     * (0x112f70, past the record, opened a fragment that tshark's reassembly failed on: "fh") */
    assert_int_equal(be16(p + 9), 40), assert_int_equal(p[11], 0x9e), assert_int_equal(be24(p + 12), 36);
    assert_int_equal(p[15], 0x05);
    /* the same in 80 bytes: the Finished reaches the end */
    write_payload(tls, p, 80, 1, ccs, 16);
    assert_int_equal(check_records(p, 80, types), 2);
    assert_int_equal(be16(p + 9), 69), assert_int_equal(p[11], 0x9e), assert_int_equal(be24(p + 12), 65);
    /* a CCS whose generated length is 0 (tshark: "Zero-length Change Cipher Spec"), version 2.1 on 443 */
    static const uint8_t zero[8] = {0x14, 0x02, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00};
    write_payload(tls, p, 40, 0, zero, 8);
    assert_int_equal(check_records(p, 40, types), 2);
    assert_int_equal(types[0], 20), assert_int_equal(types[1], 23), assert_int_equal(be16(p + 9), 29);
    /* off a TLS port such bytes are not TLS: left as generated */
    write_payload(NULL, p, 40, 0, zero, 8);
    assert_memory_equal(p, zero, 8);
    /* application data whose length is another segment's */
    static const uint8_t data[8] = {0x17, 0x03, 0x03, 0x40, 0x00, 0xaa, 0xbb, 0xcc};
    write_payload(tls, p, 1000, 0, data, 8);
    assert_int_equal(check_records(p, 1000, types), 1), assert_int_equal(be16(p + 3), 995);
    /* bytes that start no record on a TLS port (a record's rest, which tshark read as "Ignored
     * Unknown Record": 16,000 segments of the IoT run) are application data to the segment's end */
    static const uint8_t cont[8] = {0x43, 0x6c, 0x61, 0x73, 0x73, 0x9a, 0x01, 0xfe};
    write_payload(tls, p, 100, 1, cont, 8);
    assert_int_equal(check_records(p, 100, types), 1), assert_int_equal(types[0], 23);
    assert_int_equal(be16(p + 3), 95), assert_memory_equal(p + 5, cont + 5, 3);
    /* and nothing learned, on a flow not yet TLS: the fill as it was (a header-only model's bytes) */
    write_payload(tls, p, 100, 1, NULL, 0);
    for (int i = 0; i < 100; i++) assert_int_equal(p[i], 0);
}

/* Handshake messages the learned bytes start: lengths inside them follow the record. */
static void test_tls_handshake_messages(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443);
    uint8_t p[MAXLEN], types[64];
    /* a ServerHello whose record length (0x51) nothing learned follows: it reaches to the end */
    static const uint8_t sh[32] = {0x16, 0x03, 0x01, 0x00, 0x51, 0x02, 0x00, 0x00, 0x4d, 0x03, 0x01,
                                   0x52, 0x89, 0x6c, 0x4d, 0xc2, 0xd6, 0xf0, 0x83, 0xaf, 0x57, 0x9f,
                                   0x8b, 0xae, 0x3d, 0x62, 0x2c, 0x6f, 0x83, 0x4d, 0x9a, 0x5f};
    write_payload(tls, p, 1380, 1, sh, 32);
    assert_int_equal(check_records(p, 1380, types), 1);
    assert_int_equal(be16(p + 3), 1375), assert_int_equal(types[0], 22);
    /* a certificate message: an empty list (fill is no DER) */
    static const uint8_t cert[12] = {0x16, 0x03, 0x03, 0x12, 0xbf, 0x0b, 0x00, 0x12, 0xbb, 0x00, 0x12, 0xb8};
    write_payload(tls, p, 700, 1, cert, 12);
    assert_int_equal(check_records(p, 700, types), 1);
    assert_int_equal(be24(p + 9), 0);
    /* a TLS 1.2 session ticket: the ticket runs to the end */
    static const uint8_t nst[16] = {0x16, 0x03, 0x03, 0x00, 0x0f, 0x04, 0x00, 0x00, 0x0b, 0x40, 0x04, 0x30, 0x90, 0x6f, 0x77, 0xbc};
    write_payload(tls, p, 60, 1, nst, 16);
    assert_int_equal(check_records(p, 60, types), 1);
    assert_int_equal(be16(p + 13), 60 - 5 - 4 - 6);
    /* encrypted extensions: one padding extension */
    static const uint8_t ee[12] = {0x16, 0x03, 0x03, 0x01, 0x40, 0x08, 0x00, 0x01, 0x3c, 0x59, 0x0d, 0xff};
    write_payload(tls, p, 200, 1, ee, 12);
    assert_int_equal(check_records(p, 200, types), 1);
    assert_int_equal(be16(p + 9), 200 - 5 - 4 - 2), assert_int_equal(be16(p + 11), 21);
    /* a type tshark knows but repair cannot make whole (certificate request): application data */
    static const uint8_t cr[9] = {0x16, 0x03, 0x03, 0x00, 0x30, 0x0d, 0x00, 0x00, 0x2c};
    write_payload(tls, p, 100, 1, cr, 9);
    assert_int_equal(check_records(p, 100, types), 1), assert_int_equal(types[0], 23);
}

/* The HTTP head of a segment of len bytes written from learned text; its
 * length (through the empty line) and the Content-Length it names (-1: none). */
static int http_written(const app *a, uint8_t *p, int len, const char *learned, int *content_length)
{
    write_payload(a, p, len, 0, (const uint8_t *)learned, (int)strlen(learned));
    const char *end = memmem(p, (size_t)len, "\r\n\r\n", 4);
    assert_non_null(end);
    int head = (int)(end - (const char *)p) + 4;
    *content_length = -1;
    const char *cl = memmem(p, (size_t)head, "\r\nContent-Length: ", 18);
    if (cl) *content_length = atoi(cl + 18);
    return head;
}

static void test_http_heads(void **state)
{
    (void)state;
    uint8_t p[MAXLEN];
    int cl, head;
    /* a request line cut by N: its version completed, the rest of the segment a body */
    head = http_written(NULL, p, 200, "GET /api/v1/device/status?id=12", &cl);
    STARTS(p, "GET /api/v1/device/status?id=12 HTTP/1.1\r\nContent-Length: ");
    assert_int_equal(head + cl, 200);
    /* a version half learned is finished as it began */
    head = http_written(NULL, p, 100, "POST /upload HTTP/1.0\r\nHost: 10.0", &cl);
    STARTS(p, "POST /upload HTTP/1.0\r\nHost: 10.0\r\nContent-Length: ");
    assert_int_equal(head + cl, 100);
    head = http_written(NULL, p, 100, "GET /index.html HTTP/1", &cl);
    STARTS(p, "GET /index.html HTTP/1.1\r\n");
    /* a status line and a header cut in its value */
    head = http_written(NULL, p, 307, "HTTP/1.1 200 OK\r\nContent-Type: t", &cl);
    STARTS(p, "HTTP/1.1 200 OK\r\nContent-Type: t\r\nContent-Length: ");
    assert_int_equal(head + cl, 307);
    /* a garbled header name (fill or mixed bits): the line goes, the lines before it stay */
    head = http_written(NULL, p, 300, "HTTP/1.1 200 OK\r\nCmfte\x01t-Type: t", &cl);
    STARTS(p, "HTTP/1.1 200 OK\r\nContent-Length: ");
    /* a status code cut by N */
    head = http_written(NULL, p, 90, "HTTP/1.1 2", &cl);
    STARTS(p, "HTTP/1.1 200 \r\nContent-Length: ");
    assert_int_equal(head + cl, 90);
    /* a learned Content-Length would name another body: dropped */
    head = http_written(NULL, p, 120, "HTTP/1.0 200 OK\r\nContent-Length: 4096\r\n", &cl);
    assert_int_equal(head + cl, 120);
    /* the digits count: 31 bytes after the head leave 9 for the body, written "09" */
    head = http_written(NULL, p, 26 + 31, "GET /index.html HTTP/1.1\r\n", &cl);
    assert_int_equal(head + cl, 57), assert_non_null(memmem(p, 57, "Content-Length: 09\r\n", 20));
    /* too short for a Content-Length: a header of spaces; exactly the empty line */
    head = http_written(NULL, p, 26 + 10, "GET /index.html HTTP/1.1\r\n", &cl);
    assert_int_equal(head, 36), assert_int_equal(cl, -1), assert_memory_equal(p + 26, "X:    \r\n\r\n", 10);
    head = http_written(NULL, p, 28, "GET /index.html HTTP/1.1\r\n", &cl);
    assert_int_equal(head, 28);
    /* SSDP's start lines as the model garbles them (at most one bit in 8 off) are SSDP's, whole:
     * nDPI 4.2 reads SSDP only from "NOTIFY * HTTP/1.1" or "M-SEARCH * HTTP/1.1" exactly */
    const app *ssdp = app_of(NS_PROTO_UDP, 1900);
    head = http_written(ssdp, p, 200, "NOTIBY * HTTP/1.1\r\nHOST: 239.255.", &cl);
    STARTS(p, "NOTIFY * HTTP/1.1\r\nHOST: 239.255.\r\nContent-Length: ");
    head = http_written(ssdp, p, 150, "m-SEARCH * HTTP/q&1\r\nHOST: 2", &cl);
    STARTS(p, "M-SEARCH * HTTP/1.1\r\nHOST: 2\r\nContent-Length: ");
    assert_int_equal(head + cl, 150);
    /* "NOTABX" is 3 bits off "NOTIFY" (of the line's 17 allowed) */
    head = http_written(ssdp, p, 100, "NOTABX * HTTP/1.1\r\n", &cl);
    STARTS(p, "NOTIFY * HTTP/1.1\r\nContent-Length: ");
    /* SSDP: HTTP over UDP, the same head */
    head = http_written(NULL, p, 150, "M-SEARCH * HTTP/1.1\r\nHOST: 239.2", &cl);
    STARTS(p, "M-SEARCH * HTTP/1.1\r\nHOST: 239.2\r\nContent-Length: ");
    /* no room for the head's end (3 to 5 bytes): left as generated */
    write_payload(NULL, p, 29, 0, (const uint8_t *)"GET /index.html HTTP/1.1\r\n", 26);
    STARTS(p, "GET /index.html HTTP/1.1\r\n\0\0\0");
    /* not a method: left as generated */
    write_payload(NULL, p, 40, 0, (const uint8_t *)"oUT /qoudu", 10);
    STARTS(p, "oUT /qoudu\0");
}

/* TFTP: a generated request whose strings run to the end without their
 * NULs (malformed to tshark: 14 packets of the IoT run) gives way to the
 * fill's message; one that parses stays. */
static void test_tftp_requests(void **state)
{
    (void)state;
    const app *tftp = app_of(NS_PROTO_UDP, 69);
    assert_non_null(tftp);
    uint8_t p[MAXLEN];
    static const uint8_t garbled[20] = {0x00, 0x01, 0x0f, 0x10, 0x30, 0x20, 0x20, 0x70, 0x01, 0x02,
                                        0x90, 0x08, 0x01, 0x29, 0x42, 0x20, 0x64, 0x20, 0x41, 0x42};
    write_payload(tftp, p, 20, 0, garbled, 20);
    STARTS(p, "\0\3\0\1"); /* DATA, block 1 */
    static const char rrq[] = "\0\1firmware.bin\0octet\0blksize\0" "1428";
    write_payload(tftp, p, 40, 0, (const uint8_t *)rrq, (int)sizeof rrq - 1);
    STARTS(p, "\0\1firmware.bin\0octet\0blksize\0" "1428\0");
    static const char mode[] = "\0\1firmware.bin\0octat\0"; /* no such mode */
    write_payload(tftp, p, 30, 0, (const uint8_t *)mode, (int)sizeof mode - 1);
    STARTS(p, "\0\3\0\1");
}

/* Random learned starts (record headers and HTTP lines with random bytes
 * after them) in random segment sizes: whatever they say, a segment on a
 * TLS port that starts with a record type comes out as records that tile
 * it, and an HTTP start comes out with a whole head and a body its
 * Content-Length counts, or as generated. */
static void test_random_starts(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    static const char *const heads[] = {"GET /", "POST /a HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n", "HTTP/1.", "M-SEARCH * HTTP/1.1\r\nHOST:",
                                        "NOTIFY * HTTP/1.1\r\nCache-Control: max-age=", "GET /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nab"};
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t pay[64], p[MAXLEN], types[MAXLEN / 5 + 1];
        for (int i = 0; i < 64; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, pay[i] = (uint8_t)(x >> 24);
        int n_pay = 1 + (int)(x % 64), len = n_pay + (int)((x >> 8) % 1400);
        if (iter % 2 == 0) { /* TLS: a record type, mostly a TLS version, sometimes a second header inside */
            pay[0] = (uint8_t)(20 + (x >> 20) % 4), pay[1] = (x >> 22) % 8 ? 3 : pay[1], pay[2] = (uint8_t)((x >> 25) % 5);
            if ((x >> 28) % 2) pay[3] = 0, pay[4] = (uint8_t)((x >> 30) % 40);
            if ((x >> 36) % 2 && n_pay > 20) pay[5] = (uint8_t)((x >> 37) % 3), pay[6] = 0;
            write_payload(tls, p, len, iter % 4 == 0, pay, n_pay);
            if (len <= 5) { /* no record fits: a header of application data begins, the next segment ends it */
                assert_int_equal(p[0], 23);
                if (len >= 2) assert_int_equal(p[1], 3);
                continue;
            }
            int k = check_records(p, len, types);
            assert_true(k >= 1);
            continue;
        }
        const char *h = heads[(x >> 33) % (sizeof heads / sizeof heads[0])];
        size_t hn = strlen(h) < (size_t)n_pay ? strlen(h) : (size_t)n_pay;
        memcpy(pay, h, hn);
        if ((x >> 40) % 2) /* printable after the start, as a learned line mostly is */
            for (int i = (int)hn; i < 64; i++) pay[i] = (uint8_t)(32 + pay[i] % 95);
        write_payload(NULL, p, len, 0, pay, n_pay);
        const uint8_t *end = memmem(p, (size_t)len, "\r\n\r\n", 4);
        if (!end || !memcmp(p, pay, (size_t)n_pay)) continue; /* left as generated (not a start, or no room) */
        int head = (int)(end - p) + 4;
        const char *cl = memmem(p, (size_t)head, "\r\nContent-Length: ", 18);
        assert_int_equal(head + (cl ? atoi(cl + 18) : 0), len);
    }
}

/* A TLS flow's segments in order, through one app_flow: tshark reads the
 * stream, so each segment goes on with the record the last one left open or
 * starts one. From the IoT run: a 5-byte segment "17 03 01 00 00" (an empty
 * record, malformed to tshark), zero-filled segments of rows without bytes of
 * their own and a 4-byte one ("Ignored Unknown Record", which took the next
 * record with it), ciphertext that starts no record. */
static void test_tls_stream(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443);
    app_flow f;
    memset(&f, 0, sizeof f);
    uint8_t p[MAXLEN], types[64];
    /* a header alone, learned length 0: one byte of body, in the next segment */
    static const uint8_t empty[5] = {0x17, 0x03, 0x01, 0x00, 0x00};
    memset(p, 0, 5), app_write(tls, &f, p, 5, 0, 1, empty, 5);
    STARTS(p, "\x17\x03\x01\x00\x01");
    assert_int_equal(f.tls_rem[0], 1), assert_int_equal(f.tls, 2);
    /* the next client segment (nothing learned, zeros): the body's byte, then a record to its end */
    memset(p, 0, 40), app_write(tls, &f, p, 40, 0, 1, NULL, 0);
    assert_int_equal(check_records(p + 1, 39, types), 1), assert_int_equal(types[0], 23);
    assert_int_equal(p[2], 3), assert_int_equal(p[3], 1); /* the flow's version */
    /* a header with its learned length (32) alone: the next 32 bytes are its body */
    static const uint8_t hdr[5] = {0x17, 0x03, 0x01, 0x00, 0x20};
    memset(p, 0, 5), app_write(tls, &f, p, 5, 1, 1, hdr, 5);
    assert_memory_equal(p, hdr, 5), assert_int_equal(f.tls_rem[1], 32);
    static const uint8_t cipher[8] = {0xf7, 0x47, 0xde, 0xbf, 0x2f, 0xff, 0xff, 0xff};
    memset(p, 0, 32), app_write(tls, &f, p, 32, 1, 1, cipher, 8);
    assert_memory_equal(p, cipher, 8), assert_int_equal(f.tls_rem[1], 0);
    /* 4 zero bytes: the start of a header, whose length covers the next segment's rest */
    memset(p, 0, 4), app_write(tls, &f, p, 4, 1, 1, NULL, 0);
    STARTS(p, "\x17\x03\x01\x00");
    assert_int_equal(f.tls_hdr[1], 4);
    memset(p, 0, 100), app_write(tls, &f, p, 100, 1, 1, cipher, 8);
    assert_int_equal(p[0], 99), assert_int_equal(f.tls_hdr[1], 0), assert_int_equal(f.tls_rem[1], 0);
    assert_memory_equal(p + 1, cipher + 1, 7);
    /* 2 bytes, then 1: the header goes on across both, then covers the rest of a 300-byte segment */
    memset(p, 0, 2), app_write(tls, &f, p, 2, 1, 1, NULL, 0);
    memset(p + 2, 0, 1), app_write(tls, &f, p + 2, 1, 1, 1, NULL, 0);
    memset(p + 3, 0, 300), app_write(tls, &f, p + 3, 300, 1, 1, NULL, 0);
    assert_int_equal(check_records(p, 303, types), 1), assert_int_equal(be16(p + 3), 298);
    /* a row's own bytes that start no record: application data over them, the rest as learned */
    memset(p, 0, 200), app_write(tls, &f, p, 200, 0, 1, cipher, 8);
    assert_int_equal(check_records(p, 200, types), 1), assert_int_equal(types[0], 23);
    assert_memory_equal(p + 5, cipher + 5, 3);
    /* a flow that never carried a record (a header-only model's): zeros stay zeros */
    app_flow none;
    memset(&none, 0, sizeof none);
    for (int len = 1; len < 300; len += 37) {
        memset(p, 0, (size_t)len), app_write(tls, &none, p, len, len % 2, 1, NULL, 0);
        for (int i = 0; i < len; i++) assert_int_equal(p[i], 0);
    }
    assert_int_equal(none.tls, 0);
    /* TCP 50443 (TP-Link's plugs) is a TLS port: a record with a garbled version is framed there */
    static const uint8_t ccs[8] = {0x14, 0x07, 0x01, 0x00, 0x00, 0x10, 0x04, 0x00};
    memset(&f, 0, sizeof f);
    memset(p, 0, 36), app_write(app_of(NS_PROTO_TCP, 50443), &f, p, 36, 1, 1, ccs, 8);
    assert_int_equal(check_records(p, 36, types), 2), assert_int_equal(types[0], 20);
}

/* Random segments of one direction through one app_flow on a TLS port (record
 * starts, ciphertext, rows with no bytes, segments of 1 to 5 bytes): the
 * bytes written, joined as tshark joins them, are records end to end, each
 * of a known type, a 3.x version and at least one byte, the last one
 * possibly still open when the flow ends. */
static void test_tls_stream_random(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443);
    uint64_t x = 0x2545f4914f6cdd1dull;
    static uint8_t stream[400 * 1500];
    for (int flow = 0; flow < 200; flow++) {
        app_flow f;
        memset(&f, 0, sizeof f);
        size_t total = 0, begin = 0;
        for (int k = 0; k < 200; k++) {
            uint8_t pay[64];
            for (int i = 0; i < 64; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, pay[i] = (uint8_t)(x >> 24);
            int kind = (int)(x % 5), len = kind == 0 ? 1 + (int)((x >> 8) % 5) : 1 + (int)((x >> 8) % 1400);
            int n_pay = kind == 1 ? 0 : 1 + (int)((x >> 20) % 64);
            if (kind == 2 || kind == 0) pay[0] = (uint8_t)(20 + (x >> 30) % 4), pay[1] = 3, pay[2] = (uint8_t)((x >> 33) % 4);
            if (n_pay > len) n_pay = len;
            memset(stream + total, 0, (size_t)len);
            int was = f.tls;
            app_write(tls, &f, stream + total, len, 0, 1, pay, n_pay);
            if (!was && f.tls) begin = total; /* rows of zeros before the first record keep their fill */
            total += (size_t)len;
        }
        size_t at = begin;
        while (at + 5 <= total) {
            assert_true(stream[at] >= 20 && stream[at] <= 23), assert_int_equal(stream[at + 1], 3);
            assert_true(stream[at + 2] <= 4);
            unsigned n = be16(stream + at + 3);
            assert_true(n >= 1);
            at += 5 + n;
        }
    }
}

/* HTTP: a segment of a flow tshark reads as HTTP whose learned bytes start no
 * message but a printable byte is a head to tshark, which gathers segments
 * until a line ends and threw on them ("Kache-Control: no-ctore, no-cach":
 * 75 packets of the IoT run). Its first byte is made non-printable, the rest
 * kept. The flow is HTTP on tshark's ports, after a message repair framed, or
 * after a first line tshark's heuristic takes (it ends in HTTP/1.x). */
static void test_http_stream(void **state)
{
    (void)state;
    const app *http = app_of(NS_PROTO_TCP, 80), *other = app_of(NS_PROTO_TCP, 9292);
    app_flow f;
    memset(&f, 0, sizeof f);
    uint8_t p[MAXLEN];
    static const char kache[] = "Kache-Control: no-ctore, no-cach";
    memset(p, 0, 1448), app_write(http, &f, p, 1448, 1, 1, (const uint8_t *)kache, 32);
    assert_false(p[0] >= 0x20 && p[0] < 0x7f), assert_memory_equal(p + 1, kache + 1, 31);
    /* a binary start is a continuation already: kept */
    static const uint8_t bin[4] = {0x06, 0x02, 0x01, 0x00};
    memset(p, 0, 100), app_write(http, &f, p, 100, 1, 1, bin, 4);
    assert_memory_equal(p, bin, 4);
    /* on another port: untouched until the flow is HTTP to tshark */
    memset(&f, 0, sizeof f);
    memset(p, 0, 100), app_write(other, &f, p, 100, 0, 1, (const uint8_t *)kache, 32);
    assert_memory_equal(p, kache, 32);
    static const char notify[] = "NOT}~\xfd * HTTP/1.1\r\nHOWT: 239>r55";
    memset(p, 0, 416), app_write(other, &f, p, 416, 0, 1, (const uint8_t *)notify, 32);
    assert_memory_equal(p, notify, 32), assert_int_equal(f.http, 1);
    memset(p, 0, 100), app_write(other, &f, p, 100, 0, 1, (const uint8_t *)kache, 32);
    assert_false(p[0] >= 0x20 && p[0] < 0x7f);
    /* a status line whose version is garbled ("HTTP/1&1", "HTTP/0.0": tshark took them for responses,
     * then read the lines after them as headers): version 1.x, the head framed */
    memset(&f, 0, sizeof f);
    memset(p, 0, 857), app_write(http, &f, p, 857, 1, 1, (const uint8_t *)"HTTP/1&1 200 OJineEtmlaDioma", 28);
    STARTS(p, "HTTP/1.1 200 OJineEtmlaDioma\r\nContent-Length: ");
    /* plain HTTP on a TLS port (the model's mix, dissected by tshark's heuristic) stays HTTP, until a record */
    const app *tls = app_of(NS_PROTO_TCP, 443);
    memset(&f, 0, sizeof f);
    memset(p, 0, 919), app_write(tls, &f, p, 919, 1, 1, (const uint8_t *)"HTTP/1.1 200 OK\r\nContent-Type: t", 32);
    STARTS(p, "HTTP/1.1 200 OK\r\nContent-Type: t\r\nContent-Length: ");
    assert_int_equal(f.tls, 0), assert_int_equal(f.http, 1);
    /* a message repair frames makes the flow HTTP too */
    memset(&f, 0, sizeof f);
    memset(p, 0, 200), app_write(other, &f, p, 200, 1, 1, (const uint8_t *)"HTTP/1.1 200 OK\r\nServer: x", 26);
    assert_int_equal(f.http, 1);
}

/* Near misses (issue 17): the model writes a message's constants as per-bit
 * blends of the messages a row may be (0x14 for a handshake's 0x16, a
 * handshake type 3 for a ClientHello's 1). A flow's first record in each
 * direction on a TLS port is its hello: one at most 3 of its 48 constant
 * bits off is written as the hello, its lengths the segment's and its
 * learned random kept; one farther off (application data: its ciphertext
 * is no hello's; a real one of zero bytes, 4 bits off) stays as generated,
 * and so does a later record, however near, and a real ClientHello from
 * the side repair calls the server. HTTP's first request or status line
 * and SSDP's start lines likewise (one bit in 8 of their bytes). */
static void test_near_misses(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443), *http = app_of(NS_PROTO_TCP, 80), *ssdp = app_of(NS_PROTO_UDP, 1900);
    uint8_t p[MAXLEN], types[64];
    app_flow f;
    memset(&f, 0, sizeof f);
    /* 0x14 (change cipher spec) for 0x16, handshake type 3 for 1, hello version 3.7: 1 + 1 + 1 bits off */
    static const uint8_t near_ch[32] = {0x14, 0x03, 0x01, 0x00, 0xde, 0x03, 0x00, 0x00, 0xda, 0x03, 0x07,
                                        0x57, 0xd1, 0x1f, 0xac, 0x75, 0x72, 0xc4, 0x96, 0x4f, 0x9f, 0xbe,
                                        0x1c, 0x2a, 0x11, 0xc0, 0x17, 0x6c, 0x8b, 0x98, 0x41, 0xbf};
    memset(p, 0, 300), app_write(tls, &f, p, 300, 0, 1, near_ch, 32);
    assert_int_equal(check_records(p, 300, types), 1), assert_int_equal(types[0], 22);
    STARTS(p, "\x16\x03\x01\x01\x27\x01\x00\x01\x23\x03\x03"); /* record 295, hello 291, 3.3 */
    assert_memory_equal(p + 11, near_ch + 11, 21);                    /* the learned random */
    /* the flow's next client record, as near: application data (its type 0x17, 1 bit off 0x16), kept */
    uint8_t later[32];
    memcpy(later, near_ch, 32), later[0] = 0x17, later[5] = 0x01;
    memset(p, 0, 300), app_write(tls, &f, p, 300, 0, 1, later, 32);
    assert_int_equal(check_records(p, 300, types), 1), assert_int_equal(types[0], 23);
    assert_memory_equal(p + 5, later + 5, 27);
    /* the server's first record: a ServerHello 2 bits off (type 0x17, handshake type 6) */
    uint8_t near_sh[32];
    memcpy(near_sh, near_ch, 32), near_sh[0] = 0x17, near_sh[2] = 0x03, near_sh[5] = 0x06, near_sh[10] = 0x03;
    memset(p, 0, 90), app_write(tls, &f, p, 90, 1, 1, near_sh, 32);
    assert_int_equal(check_records(p, 90, types), 1), assert_int_equal(types[0], 22), assert_int_equal(p[5], 2);
    /* farther: application data whose ciphertext bytes are 5 bits off the hello's: stays so */
    uint8_t far[32];
    memcpy(far, near_ch, 32), far[0] = 0x17, far[5] = 0x1f;
    memset(&f, 0, sizeof f);
    memset(p, 0, 300), app_write(tls, &f, p, 300, 0, 1, far, 32);
    assert_int_equal(check_records(p, 300, types), 1), assert_int_equal(types[0], 23);
    assert_memory_equal(p + 5, far + 5, 27);
    /* a real record of application data whose bytes are zeros (IoT train split): 4 bits off, kept */
    static const uint8_t zeros[11] = {0x17, 0x03, 0x03, 0x03, 0xbf, 0, 0, 0, 0, 0, 0};
    memset(&f, 0, sizeof f);
    memset(p, 0, 964), app_write(tls, &f, p, 964, 0, 1, zeros, 11);
    assert_int_equal(check_records(p, 964, types), 1), assert_int_equal(types[0], 23);
    assert_memory_equal(p, zeros, 11);
    /* a real ClientHello from the side repair calls the server (2 bits off a ServerHello): a ClientHello */
    static const uint8_t ch[11] = {0x16, 0x03, 0x01, 0x00, 0xd2, 0x01, 0x00, 0x00, 0xce, 0x03, 0x01};
    memset(&f, 0, sizeof f);
    memset(p, 0, 215), app_write(tls, &f, p, 215, 1, 1, ch, 11);
    assert_int_equal(check_records(p, 215, types), 1), assert_memory_equal(p, ch, 11);
    /* a segment written alone is no stream's start: as before (0x14 is a change of cipher spec) */
    write_payload(tls, p, 300, 0, near_ch, 32);
    assert_int_equal(p[0], 0x14);
    /* too short for a hello: left to the framing (application data) */
    memset(&f, 0, sizeof f);
    memset(p, 0, 45), app_write(tls, &f, p, 45, 0, 1, near_ch, 32);
    assert_int_equal(check_records(p, 45, types), 2), assert_int_equal(types[0], 20);

    /* HTTP: the client's first bytes a bit off "POST " (U for T), the server's "HTTQ/1." */
    memset(&f, 0, sizeof f);
    memset(p, 0, 300), app_write(http, &f, p, 300, 0, 1, (const uint8_t *)"POSU /api/v1/status HTTP/1.1\r\nHo", 32);
    STARTS(p, "POST /api/v1/status HTTP/1.1\r\nHo:\r\nContent-Length: ");
    memset(p, 0, 300), app_write(http, &f, p, 300, 1, 1, (const uint8_t *)"HTTQ/1.1 200 OK\r\n", 17);
    STARTS(p, "HTTP/1.1 200 OK\r\nContent-Length: ");
    /* the next request as near: the stream's start is behind it (its first byte made no head's) */
    memset(p, 0, 300), app_write(http, &f, p, 300, 0, 1, (const uint8_t *)"POSU /api/v1/status HTTP/1.1\r\nHo", 32);
    assert_false(p[0] >= 0x20 && p[0] < 0x7f), assert_memory_equal(p + 1, "OSU /api", 8);
    /* "GEV!" is 2 bits off "GET " (of 4 allowed), "CFV!" 5: kept */
    memset(&f, 0, sizeof f);
    memset(p, 0, 300), app_write(http, &f, p, 300, 0, 1, (const uint8_t *)"GEV!/index.html HTTP/1.1\r\n", 26);
    STARTS(p, "GET /index.html HTTP/1.1\r\n");
    memset(&f, 0, sizeof f);
    memset(p, 0, 300), app_write(http, &f, p, 300, 0, 1, (const uint8_t *)"CFV!/index.html HTTP/1.1\r\n", 26);
    assert_false(p[0] >= 0x20 && p[0] < 0x7f), assert_memory_equal(p + 1, "FV!/index", 9);

    /* SSDP: a target 1 bit off ('.' for '*'), every datagram */
    for (int i = 0; i < 2; i++) {
        memset(p, 0, 150), app_write(ssdp, &f, p, 150, 0, 1, (const uint8_t *)"M-SEARCH . HTTP/1.1\r\nHOST: 239.2", 32);
        STARTS(p, "M-SEARCH * HTTP/1.1\r\nHOST: 239.2\r\nContent-Length: ");
    }
}

/* A flow that opens with TCP's handshake (app_flow.opened, repair's): the
 * client's first data on a TLS port can only be a ClientHello and the
 * server's a ServerHello, on an HTTP port a request and a status line (the
 * IoT training rows: every flow with a SYN). There a hello start at any
 * distance (session 13) or a text up to one bit in NEAR_TEXT_OPENED off is made exact, the
 * hello's type the direction's; the same bytes in a flow captured mid-way,
 * or after a segment of fill, stay as generated, and an SSLv2 ClientHello
 * is a hello already. */
static void test_opened_flows(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443), *http = app_of(NS_PROTO_TCP, 80);
    uint8_t p[MAXLEN], types[64];
    app_flow f;
    /* 7 of 48 bits off: 0x17 (1), major 7 (1), handshake type 0x0b (2), hello version 0x13 (1) . 0x0f (2) */
    static const uint8_t far_ch[32] = {0x17, 0x07, 0x01, 0x00, 0xde, 0x0b, 0x00, 0x00, 0xda, 0x13, 0x0f,
                                       0x57, 0xd1, 0x1f, 0xac, 0x75, 0x72, 0xc4, 0x96, 0x4f, 0x9f, 0xbe,
                                       0x1c, 0x2a, 0x11, 0xc0, 0x17, 0x6c, 0x8b, 0x98, 0x41, 0xbf};
    for (int opened = 0; opened < 2; opened++) {
        memset(&f, 0, sizeof f), f.opened = (uint8_t)opened;
        memset(p, 0, 300), app_write(tls, &f, p, 300, 0, 1, far_ch, 32);
        assert_int_equal(check_records(p, 300, types), 1);
        if (opened) {
            assert_int_equal(types[0], 22), STARTS(p, "\x16\x03\x01\x01\x27\x01\x00\x01\x23\x03\x03");
            assert_memory_equal(p + 11, far_ch + 11, 21); /* the learned random */
        } else {
            assert_int_equal(types[0], 23), assert_memory_equal(p + 5, far_ch + 5, 27);
        }
        /* the server's first record, nearer a ClientHello's type (1) than a ServerHello's: a ServerHello */
        uint8_t far_sh[32];
        memcpy(far_sh, far_ch, 32), far_sh[5] = 0x01;
        memset(p, 0, 90), app_write(tls, &f, p, 90, 1, 1, far_sh, 32);
        assert_int_equal(check_records(p, 90, types), 1);
        assert_int_equal(types[0], opened ? 22 : 23);
        if (opened) assert_int_equal(p[5], 2);
    }
    /* after a segment of fill (no learned bytes) the learned one is not the direction's first data */
    memset(&f, 0, sizeof f), f.opened = 1;
    memset(p, 0, 100), app_write(tls, &f, p, 100, 0, 1, NULL, 0);
    memset(p, 0, 300), app_write(tls, &f, p, 300, 0, 1, far_ch, 32);
    assert_int_equal(check_records(p, 300, types), 1), assert_int_equal(types[0], 23);
    /* farther than 16 bits (all of the hello's constants as 0x00 or 0xff), and an application-data record
     * exact (0x17 0x03 0x03, a resumed session's start, 15 bits off): an opened flow's ClientHello all the
     * same, its learned random kept (session 13; before, application data); captured mid-way, as generated */
    uint8_t farther[32], appdata[32];
    memcpy(farther, far_ch, 32), farther[0] = 0xe9, farther[1] = 0xfc, farther[5] = 0xfe;
    memcpy(appdata, far_ch, 32), appdata[0] = 0x17, appdata[1] = 3, appdata[2] = 3, appdata[5] = 0xff;
    for (int opened = 0; opened < 2; opened++)
        for (int k = 0; k < 2; k++) {
            memset(&f, 0, sizeof f), f.opened = (uint8_t)opened;
            memset(p, 0, 300), app_write(tls, &f, p, 300, 0, 1, k ? appdata : farther, 32);
            assert_int_equal(check_records(p, 300, types), 1), assert_int_equal(types[0], opened ? 22 : 23);
            if (opened) assert_int_equal(p[5], 1), assert_memory_equal(p + 11, far_ch + 11, 21);
        }
    /* an SSLv2 ClientHello (the IoT training split's: 14 bits off a TLS hello) is no near miss */
    static const uint8_t v2[16] = {0x80, 0x7d, 0x01, 0x03, 0x01, 0x00, 0x54, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x39, 0x00, 0x00};
    memset(&f, 0, sizeof f), f.opened = 1;
    memset(p, 0, 127), app_write(tls, &f, p, 127, 0, 1, v2, 16);
    assert_int_not_equal(p[0], 22);

    /* HTTP: "CFV!" (5 bits off "GET ") and "JVQQ-0," (8 off "HTTP/1.") are an opened flow's request and status */
    for (int opened = 0; opened < 2; opened++) {
        memset(&f, 0, sizeof f), f.opened = (uint8_t)opened;
        memset(p, 0, 300), app_write(http, &f, p, 300, 0, 1, (const uint8_t *)"CFV!/index.html HTTP/1.1\r\n", 26);
        if (opened) STARTS(p, "GET /index.html HTTP/1.1\r\n");
        else assert_false(p[0] >= 0x20 && p[0] < 0x7f), assert_memory_equal(p + 1, "FV!/index", 9);
        memset(p, 0, 300), app_write(http, &f, p, 300, 1, 1, (const uint8_t *)"JVQQ-0,1 200 OK\r\n", 17);
        if (opened) STARTS(p, "HTTP/1.1 200 OK\r\n");
        else assert_memory_equal(p + 1, "VQQ-0,1", 7);
    }
    /* 14 bits off "PUT ", 18 off "GET ": an opened flow's first request all the same (no prior: GET or
     * POST, the nearer); a flow without a handshake keeps it as generated (a continuation to tshark) */
    for (int opened = 0; opened < 2; opened++) {
        memset(&f, 0, sizeof f), f.opened = (uint8_t)opened;
        memset(p, 0, 300), app_write(http, &f, p, 300, 0, 1, (const uint8_t *)"\xb8\xbaV!/index.html HTTP/1.1\r\n", 26);
        if (opened) STARTS(p, "GET /index.html HTTP/1.1\r\n");
        else assert_memory_equal(p, "\xb8\xbaV!/index", 10);
    }
}

/* A garbled method near several goes to the likeliest given the class's
 * first requests (app_flow.methods, the trace model's), not to the nearest
 * alone: "@ET " is 2 bits off "PUT " and 3 off "GET "; a class whose first
 * requests were GET 547, PUT 16 (the IoT corpus's HueBridge) gets "GET ",
 * one that sent PUT mostly "PUT ", and without counts (a header-only
 * model's) the nearest, "PUT ", as before. A method out of reach stays out
 * of reach however common. */
static void test_method_prior(void **state)
{
    (void)state;
    const app *http = app_of(NS_PROTO_TCP, 80);
    uint8_t p[MAXLEN];
    app_flow f;
    static const uint16_t hue[NS_REPAIR_METHODS] = {547, 884, 16}, puts[NS_REPAIR_METHODS] = {40, 0, 500},
                          none[NS_REPAIR_METHODS] = {0};
    const uint16_t *prior[] = {hue, puts, none, NULL};
    const char *want[] = {"GET /a HTTP/1.1\r\n", "PUT /a HTTP/1.1\r\n", "PUT /a HTTP/1.1\r\n", "PUT /a HTTP/1.1\r\n"};
    for (int i = 0; i < 4; i++) {
        memset(&f, 0, sizeof f), f.methods = prior[i];
        memset(p, 0, 300), app_write(http, &f, p, 300, 0, 1, (const uint8_t *)"@ET /a HTTP/1.1\r\n", 17);
        assert_memory_equal(p, want[i], strlen(want[i]));
    }
    /* "CFV!" is 5 bits off "GET " (an opened flow's reach: 8), 9 and more off any other: GET, whatever the prior */
    static const uint16_t posts[NS_REPAIR_METHODS] = {1, 5000};
    memset(&f, 0, sizeof f), f.methods = posts, f.opened = 1;
    memset(p, 0, 300), app_write(http, &f, p, 300, 0, 1, (const uint8_t *)"CFV!/index.html HTTP/1.1\r\n", 26);
    STARTS(p, "GET /index.html");
}

/* Where the stream admits one message only, the model's bytes become it
 * however far they are from its constants: a datagram to UDP 1900 is an
 * SSDP request (every one of the IoT corpus's 4,619 is), one from it an
 * answer's status line; an opened flow's first data on an HTTP port is a
 * request (the class's likeliest method) or a status line. The message is
 * framed to the generated length; what the model wrote past the start
 * line stays where it is a head's; rows without learned bytes keep their
 * fill. Each assertion of a far start failed before (as generated). */
static void test_ssdp_and_http_from_any_bytes(void **state)
{
    (void)state;
    const app *ssdp = app_of(NS_PROTO_UDP, 1900), *http = app_of(NS_PROTO_TCP, 80);
    uint8_t p[MAXLEN];
    app_flow f;
    int cl, head;
    /* another protocol's bytes (a DNS answer's start) and a target garbled past reach: requests */
    static const uint8_t dnsish[32] = {0x4c, 0xdd, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
                                       0x00, 0x03, 'a',  'p',  'i',  0x04, 'x',  'b',  'c',  's',  0x03,
                                       'n',  'e',  't',  0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c};
    write_payload(ssdp, p, 180, 0, dnsish, 32);
    assert_true(!memcmp(p, "NOTIFY * HTTP/1.1\r\n", 19) || !memcmp(p, "M-SEARCH * HTTP/1.1\r\n", 21));
    head = http_written(ssdp, p, 180, "M-\x7f\x7f\x7f\x7f\x7f\x7f * HTTP/1.1\r\nHOST: 239.2", &cl);
    STARTS(p, "M-SEARCH * HTTP/1.1\r\nHOST: 239.2\r\nContent-Length: ");
    assert_int_equal(head + cl, 180);
    /* "NOTIFY" bytes with the rest of the line garbled: fewer of NOTIFY's bits off than M-SEARCH's */
    head = http_written(ssdp, p, 150, "NOTIFY \x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\r\nNT: upnp:rootdevice", &cl);
    STARTS(p, "NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n");
    assert_int_equal(head + cl, 150);
    /* from port 1900: an answer */
    write_payload(ssdp, p, 120, 1, dnsish, 32);
    STARTS(p, "HTTP/1.1 200 \r\n");
    /* shorter than either line: no request fits, the bytes stay */
    write_payload(ssdp, p, 120, 0, dnsish, 12);
    assert_memory_equal(p + 1, dnsish + 1, 11);
    /* no learned bytes: the fill, as in header-only pcaps */
    write_payload(ssdp, p, 120, 0, NULL, 0);
    for (int i = 0; i < 120; i++) assert_int_equal(p[i], 0);

    /* HTTP: 20+ bits off every method, in an opened flow: the class's likeliest (PUT for one that sent PUT
     * mostly), its status line likewise; without a handshake, as generated */
    static const uint16_t puts[NS_REPAIR_METHODS] = {40, 0, 500};
    static const uint8_t far[24] = {0xb8, 0xba, 0x00, 0x91, '/', 'x', ' ', 'H', 'T', 'T', 'P', '/',
                                    '1', '.', '1', '\r', '\n', 'H', 'o', 's', 't', ':', ' ', 'a'};
    for (int opened = 0; opened < 2; opened++) {
        memset(&f, 0, sizeof f), f.opened = (uint8_t)opened, f.methods = puts;
        memset(p, 0, 200), app_write(http, &f, p, 200, 0, 1, far, 24);
        if (opened) STARTS(p, "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: ");
        else assert_memory_equal(p + 1, far + 1, 23);
        memset(p, 0, 200), app_write(http, &f, p, 200, 1, 1, dnsish, 32);
        if (opened) STARTS(p, "HTTP/1.1 200 \r\nContent-Length: ");
        else assert_memory_equal(p + 1, dnsish + 1, 31);
    }
    /* the direction's second data is no opening: as generated */
    memset(&f, 0, sizeof f), f.opened = 1, f.methods = puts;
    memset(p, 0, 200), app_write(http, &f, p, 200, 0, 1, (const uint8_t *)"GET /a HTTP/1.1\r\n", 17);
    memset(p, 0, 200), app_write(http, &f, p, 200, 0, 1, far, 24);
    assert_memory_equal(p + 1, far + 1, 23);
}

/* UDP on a port that is not DNS's: tshark's DNS heuristic takes bytes shaped
 * like a DNS header (a response of one question and one answer) and found the
 * records running past the datagram (28 packets of the IoT run, ports 17 to
 * 39852); such bytes give way to the fill, a whole message stays. Ports whose
 * dissectors reject the model's bytes (RADIUS, DICOM) keep the fill. */
static void test_udp_other_ports(void **state)
{
    (void)state;
    const app *udp = app_of(NS_PROTO_UDP, 117);
    uint8_t p[MAXLEN];
    static const uint8_t garbled[32] = {0x00, 0x00, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
                                        0x00, 0x06, 0x70, 0x7a, 0x69, 0x6e, 0x66, 0x6b, 0x01, 0x04, 0x72,
                                        0x69, 0x04, 0x64, 0x68, 0x68, 0x6e, 0x63, 0x43, 0x6b, 0x6d};
    write_payload(udp, p, 38, 1, garbled, 32);
    for (int i = 0; i < 38; i++) assert_int_equal(p[i], 0);
    /* a query that parses whole stays (nDPI may call it DNS: so would it a real one) */
    static const uint8_t query[29] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 'e', 'x',
                                      'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00, 0x00, 0x01, 0x00, 0x01};
    write_payload(udp, p, 29, 0, query, 29);
    assert_memory_equal(p, query, 29);
    /* bytes of another shape stay */
    static const uint8_t other[8] = {0x45, 0x00, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00};
    write_payload(udp, p, 40, 0, other, 8);
    assert_memory_equal(p, other, 8);
    static const uint8_t radius[5] = {0x20, 0x07, 0x05, 0x80, 0x00};
    write_payload(app_of(NS_PROTO_UDP, 1645), p, 5, 0, radius, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(p[i], 0);
    write_payload(app_of(NS_PROTO_TCP, 104), p, 60, 1, garbled, 32);
    for (int i = 0; i < 60; i++) assert_int_equal(p[i], 0);
    assert_null(app_of(NS_PROTO_ICMP, 0));
}

/* Generated DNS and SSDP bytes of the IoT run (session 8, the readout's
 * rows) that tshark called malformed though they passed: a DNS answer whose
 * name points into the header ("c0 00"), an mDNS answer of type MD whose
 * data is no name, and SSDP datagrams of binary bytes starting with a
 * printable one (read as head lines). The DNS ones give way to the fill,
 * the SSDP ones become continuations; names that point to a question and
 * name data that parse stay. Each failed before the fix. */
static void test_dns_names_and_ssdp_binary(void **state)
{
    (void)state;
    uint8_t p[MAXLEN];
    const app *dns = app_of(NS_PROTO_UDP, 53), *mdns = app_of(NS_PROTO_UDP, 5353), *ssdp = app_of(NS_PROTO_UDP, 1900);
    static const uint8_t to_header[32] = {0x4c, 0xdd, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
                                          0x00, 0x03, 'a',  'p',  'i',  0x04, 'x',  'b',  'c',  's',  0x03,
                                          'n',  'e',  't',  0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x00};
    write_payload(dns, p, 42, 1, to_header, 32);
    assert_true(memcmp(p + 12, to_header + 12, 20) != 0); /* the fill's message */
    uint8_t to_question[32];
    memcpy(to_question, to_header, 32), to_question[31] = 0x0c;
    write_payload(dns, p, 42, 1, to_question, 32);
    assert_memory_equal(p + 2, to_question + 2, 30);
    /* a pointer back into the labels before it, which lead to it again: no name, and no endless loop */
    static const uint8_t cyc[18] = {0x00, 0x00, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x01, 'a', 0xc0, 0x0c, 0x00, 0x01};
    write_payload(dns, p, 40, 1, cyc, 18);
    assert_true(memcmp(p + 12, cyc + 12, 6) != 0);
    /* mDNS: an answer of type MD (3) whose 258 bytes of data are no name */
    static const uint8_t md[32] = {0x04, 0x11, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x52,
                                   0x28, 0x09, 0x12, 0x11, 0x4c, 0x01, 0x02, 0x70, 0x41, 0x45, 0x6c, 0x11, 0x32, 0x25, 0x74, 0x45};
    write_payload(mdns, p, 471, 1, md, 32);
    assert_true(memcmp(p + 12, md + 12, 20) != 0);
    /* a PTR whose data is a name stays */
    static const uint8_t ptr[31] = {0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 'a', 0x00, 0x00,
                                    0x0c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x05, 0x02, 'h', 'i', 0xc0, 0x0c};
    write_payload(mdns, p, 30, 1, ptr, 30);
    assert_memory_equal(p + 2, ptr + 2, 28);
    static const uint8_t bin[30] = {0x56, 0x42, 0x10, 0x4c, 0x00, 0x9c, 0x00, 0x00, 0x6c, 0x00, 0x54, 0x60, 0x3a, 0x0a, 0x38,
                                    0x1c, 0x19, 0x3e, 0x02, 0x6e, 0x47, 0x06, 0x10, 0x3b, 0x33, 0x32, 0x34, 0x31, 0x02, 0x00};
    write_payload(ssdp, p, 30, 0, bin, 16); /* shorter than a request line ("SSDP from any bytes" for longer) */
    assert_int_equal(p[0], 0x56 | 0x80);
    assert_memory_equal(p + 1, bin + 1, 15);
}

/* A header-only DNS message (no learned bytes) is whole: questions whose
 * names cover every byte past the header (tshark noted the zeros after an
 * empty header as "Extraneous data", 12,759 notes in the IoT run), over UDP
 * and TCP; NetBIOS's port keeps its zeros (its names are encoded
 * otherwise); fewer than 5 bytes past the header stay zeros, and the last
 * of 6 (no name is 2 bytes long). The names look like host names: labels
 * of 1 to 12 letters, digits and inner hyphens, a letter first, never the
 * alphabet's run that gave them away before. */
static void test_dns_questions_fill_the_message(void **state)
{
    (void)state;
    static const int lens[] = {17, 18, 19, 44, 60, 271, 272, 300, 530, 1400};
    for (int t = 0; t < 2; t++) {
        const app *a = app_of(t ? NS_PROTO_TCP : NS_PROTO_UDP, 53);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            uint8_t data[MAXLEN];
            int len = lens[i] + 2 * t, off = 2 * t;
            write_payload(a, data, len, i & 1, NULL, 0);
            const uint8_t *m = data + off;
            int n = len - off, q = be16(m + 4), at = 12;
            assert_int_equal(m[2] & 0x80, i & 1 ? 0x80 : 0);
            assert_int_equal(be16(m + 6) | be16(m + 8) | be16(m + 10), 0);
            assert_true(q >= 1);
            for (int k = 0; k < q; k++) {
                int start = at;
                while (m[at]) {
                    assert_true(m[at] <= 12);
                    assert_true(m[at + 1] >= 'a' && m[at + 1] <= 'z');
                    for (int c = 1; c <= m[at]; c++)
                        assert_true((m[at + c] >= 'a' && m[at + c] <= 'z') || (m[at + c] >= '0' && m[at + c] <= '9') ||
                                    (m[at + c] == '-' && c > 1 && c < m[at]));
                    at += 1 + m[at];
                    assert_true(at < n);
                }
                at++;
                assert_true(at - start <= 255);
                assert_int_equal(be16(m + at), 1), assert_int_equal(be16(m + at + 2), 1);
                at += 4;
            }
            assert_int_equal(at, n - (n == 18)); /* 6 bytes past the header: the root's 5, then a zero */
            if (n >= 44) assert_non_null(memmem(m + 12, (size_t)n - 12, "\7example", 9)); /* a name no one owns */
            assert_null(memmem(m + 12, (size_t)n - 12, "abcdef", 6));
        }
    }
    uint8_t data[MAXLEN];
    write_payload(app_of(NS_PROTO_UDP, 53), data, 16, 0, NULL, 0);
    for (int i = 4; i < 16; i++) assert_int_equal(data[i], 0);
    write_payload(app_of(NS_PROTO_UDP, 137), data, 50, 0, NULL, 0);
    for (int i = 4; i < 50; i++) assert_int_equal(data[i], 0);
}

/* The first question's name at m + 12 of a message: its end. */
static int question_end(const uint8_t *m, int n)
{
    int at = 12;
    while (at < n && m[at]) at += 1 + m[at];
    return at + 1 + 4;
}

/* A header-only DNS response repeats its query's question (the flow's
 * latest query, whose id it carries) and answers it in the bytes past it,
 * every length as the rows decide: A records of documentation addresses,
 * a CNAME first for what is not a multiple of 16 bytes, 11 bytes an EDNS
 * OPT; a response shorter than its query, or a rest no record covers,
 * asks its own question. Before, a response's names were its own fill,
 * not its query's (session 8's note). */
static void test_dns_response_repeats_query(void **state)
{
    (void)state;
    const app *dns = app_of(NS_PROTO_UDP, 53);
    static const struct { int q, r, echo, an, ar; } c[] = {
        {40, 40, 1, 0, 0}, {40, 56, 1, 1, 0}, {40, 51, 1, 0, 1}, {40, 88, 1, 3, 0}, {40, 77, 1, 2, 0},
        {33, 300, 1, 15, 0}, {60, 45, 0, 0, 0}, {40, 45, 0, 0, 0}, {40, 53, 0, 0, 0}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        app_flow f;
        memset(&f, 0, sizeof f), f.seed = 77 + (uint32_t)i;
        uint8_t q[MAXLEN], r[MAXLEN];
        memset(q, 0, sizeof q), memset(r, 0, sizeof r);
        app_write(dns, &f, q, c[i].q, 0, 0x5a5a, NULL, 0);
        app_write(dns, &f, r, c[i].r, 1, 0x5a5a, NULL, 0);
        assert_int_equal(be16(r), 0x5a5a), assert_int_equal(r[2] & 0x80, 0x80);
        int qend = question_end(q, c[i].q);
        assert_int_equal(qend, c[i].q);
        if (!c[i].echo) { /* its own question, covering it all */
            assert_int_equal(be16(r + 6) | be16(r + 10), 0);
            assert_true(be16(r + 4) >= 1);
            continue;
        }
        assert_int_equal(be16(r + 4), be16(q + 4));
        assert_memory_equal(r + 12, q + 12, (size_t)qend - 12);
        assert_int_equal(be16(r + 6), c[i].an), assert_int_equal(be16(r + 10), c[i].ar);
        int at = qend, a_records = 0;
        for (int k = 0; k < c[i].an + c[i].ar; k++) { /* the records cover the rest exactly */
            int name = at;
            if (r[at] == 0) at++;   /* the root: OPT */
            else assert_int_equal(r[at] & 0xc0, 0xc0), at += 2;
            unsigned type = be16(r + at), rdlen = be16(r + at + 8);
            at += 10;
            if (type == 1) {
                assert_int_equal(rdlen, 4), a_records++;
                assert_true((r[at] == 192 && r[at + 1] == 0 && r[at + 2] == 2) || (r[at] == 198 && r[at + 1] == 51) ||
                            (r[at] == 203 && r[at + 1] == 0 && r[at + 2] == 113));
            } else if (type == 5) {
                assert_int_equal(be16(r + name), 0xc00c);   /* the question's name is the alias */
                assert_int_equal(question_end(r + at - 12, (int)rdlen + 12) - 12 - 4, rdlen);
            } else {
                assert_int_equal(type, 41), assert_int_equal(rdlen, 0);
            }
            at += (int)rdlen;
        }
        assert_int_equal(at, c[i].r);
        if (c[i].an) assert_true(a_records >= 1);
    }
    /* The response alone (no query written before it): its own question. */
    app_flow f = {0};
    uint8_t r[64] = {0};
    app_write(dns, &f, r, 40, 1, 7, NULL, 0);
    assert_int_equal(question_end(r, 40), 40);
}

/* mDNS messages carry id 0 (RFC 6762 18.1; the corpus's do), a response
 * its authoritative flag, whatever id the flow gave them, and over learned
 * bytes too; unicast DNS keeps the id. Before, 0x1234 was written. */
static void test_mdns_id_zero(void **state)
{
    (void)state;
    uint8_t p[MAXLEN];
    const app *mdns = app_of(NS_PROTO_UDP, 5353);
    write_payload(mdns, p, 40, 0, NULL, 0);
    assert_int_equal(be16(p), 0), assert_int_equal(p[2], 0);
    write_payload(mdns, p, 40, 1, NULL, 0);
    assert_int_equal(be16(p), 0), assert_int_equal(p[2], 0x84);
    assert_non_null(memmem(p + 12, 28, "\5local", 7));
    static const uint8_t learned[12] = {0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    write_payload(mdns, p, 12, 0, learned, 12);
    assert_int_equal(be16(p), 0);
    write_payload(app_of(NS_PROTO_UDP, 53), p, 40, 0, NULL, 0);
    assert_int_equal(be16(p), 0x1234);
}

/* A name at m[at] (labels, then the root or a pointer back), written as
 * text into out ("_hap._tcp.local"); returns where it ends. */
static int name_text(const uint8_t *m, int n, int at, char *out)
{
    int end = -1;
    out[0] = 0;
    for (int hops = 0; hops < 8; hops++) {
        while (at < n && m[at] && (m[at] & 0xc0) == 0) {
            strncat(out, (const char *)m + at + 1, (size_t)m[at]), strcat(out, ".");
            at += 1 + m[at];
        }
        assert_true(at < n);
        if (!m[at]) return end < 0 ? at + 1 : end;
        if (end < 0) end = at + 2;
        int to = (m[at] & 0x3f) << 8 | m[at + 1];
        assert_true(to < at);   /* pointers go back */
        at = to;
    }
    fail();
    return 0;
}

/* Header-only mDNS messages say what devices say (RFC 6762 8, RFC 6763):
 * a flow's first three probe for a DNS-SD instance (`Bridge
 * 2476FF._hap._tcp.local`, the type from IANA's registry), asking ANY with
 * the records it claims (SRV to a host under `local.`, TXT) as authority;
 * later ones announce them (PTR from the type to the instance, SRV, TXT),
 * names compressed, every length the rows' and the records covering it.
 * Before, A questions for random host names under `.local` (session 10's
 * side-by-side: `wske.aet5wx.kguy6mapz.vhzm.local`), where the corpus's
 * devices probe (ANY) and announce (59% of their mDNS are responses). */
static void test_mdns_asks_services(void **state)
{
    (void)state;
    const app *mdns = app_of(NS_PROTO_UDP, 5353);
    int probes = 0, announced = 0, short_ones = 0;
    for (int len = 12 + 21; len <= 700; len += len < 160 ? 1 : 37) {
        app_flow f;
        memset(&f, 0, sizeof f), f.seed = (uint32_t)len * 2654435761u;
        for (int i = 0; i < 5; i++) {
            uint8_t m[MAXLEN];
            memset(m, 0, sizeof m);
            app_write(mdns, &f, m, len, 0, 9, NULL, 0);
            int q = (int)be16(m + 4), an = (int)be16(m + 6), ns = (int)be16(m + 8), at = 12;
            assert_int_equal(be16(m), 0), assert_int_equal(be16(m + 10), 0);
            if (q && be16(m + question_end(m, len) - 4) == 1) { /* too short for a probe: host names (A) */
                assert_true(len < 12 + 2 + 29 + 4 + 13), assert_int_equal(an + ns, 0);
                short_ones++;
                continue;
            }
            char inst[1024] = "";
            for (int k = 0; k < q + an + ns; k++) {
                char name[1024];
                at = name_text(m, len, at, name);
                unsigned type = be16(m + at), cls = be16(m + at + 2);
                size_t nl = strlen(name);
                at += 4;
                assert_int_equal(cls, 1);
                assert_true(nl > 12 && !strcmp(name + nl - 12, "._tcp.local."));
                if (k < q) { /* a probe's question: ANY for the instance */
                    assert_true(i < 3), assert_int_equal(m[2], 0);
                    assert_int_equal(type, 255), assert_true(name[0] != '_');
                    strcpy(inst, name), probes++;
                    continue;
                }
                unsigned rdlen = be16(m + at + 4);
                at += 6;
                assert_true(at + (int)rdlen <= len);
                if (type == 12) { /* announced: the type, its instance */
                    assert_true(i >= 3), assert_int_equal(m[2], 0x84);
                    assert_int_equal(name[0], '_'), assert_true(strchr(name, '.') == name + nl - 12);
                    assert_int_equal(name_text(m, len, at, inst), at + (int)rdlen);
                    assert_true(!strcmp(strchr(inst, '.') + 1, name));
                    announced++;
                } else {
                    assert_string_equal(name, inst); /* SRV and TXT are the instance's */
                    if (type == 33) {
                        char host[1024];
                        assert_int_equal(name_text(m, len, at + 6, host), at + (int)rdlen);
                        assert_true(!strcmp(host + strlen(host) - 7, ".local.") && !strchr(host, ' '));
                    } else {
                        assert_int_equal(type, 16);
                        for (int c = at; c < at + (int)rdlen; c += 1 + m[c]) assert_true(c + 1 + m[c] <= at + (int)rdlen);
                    }
                }
                at += (int)rdlen;
            }
            assert_int_equal(at, len);
            assert_null(memmem(m + 12, (size_t)len - 12, "\7example", 8));
        }
    }
    assert_true(probes > 100 && announced > 100 && short_ones < probes / 4);
    /* Too short for a probe: host names as before, under .local. */
    uint8_t m[MAXLEN];
    write_payload(mdns, m, 30, 0, NULL, 0);
    assert_non_null(memmem(m + 12, 18, "\5local", 7));
}

/* DHCP: one random transaction id per exchange (flow), the same in the
 * client's Discover and Request and the server's Offer and ACK (RFC 2131
 * 4.1), never 0, another flow another; the messages go Discover, Offer,
 * Request, ACK; the client's hardware address is its frames' MAC, and the
 * server offers it its address. Before, every message had xid 0 and was a
 * Discover or an Offer, from hardware address 00:00:00:00:00:00. */
static void test_dhcp_exchange(void **state)
{
    (void)state;
    const app *srv = app_of(NS_PROTO_UDP, 67);
    uint32_t xid[2] = {0};
    for (int flow = 0; flow < 2; flow++) {
        app_flow f;
        memset(&f, 0, sizeof f), f.seed = 1000 + (uint32_t)flow, f.client = 0x0A000005u + (uint32_t)flow;
        static const int from[5] = {0, 0, 1, 0, 1}, type[5] = {1, 1, 2, 3, 5};   /* a Discover resent */
        for (int m = 0; m < 5; m++) {
            static uint8_t p[300];
            memset(p, 0, sizeof p);
            app_write(srv, &f, p, 300, from[m], (uint16_t)m, NULL, 0);
            uint32_t x = (uint32_t)p[4] << 24 | (uint32_t)be24(p + 5);
            assert_int_not_equal(x, 0);
            if (m) assert_int_equal(x, xid[flow]);
            xid[flow] = x;
            assert_int_equal(p[240], 53), assert_int_equal(p[242], type[m]);
            const uint8_t mac[6] = {0x02, 0, 10, 0, 0, (uint8_t)(5 + flow)}, yi[4] = {10, 0, 0, (uint8_t)(5 + flow)};
            assert_memory_equal(p + 28, mac, 6);
            if (from[m]) assert_memory_equal(p + 16, yi, 4);
            else assert_int_equal(p[16] | p[17] | p[18] | p[19], 0);
        }
        /* over learned bytes too: the exchange's id */
        static uint8_t p[300];
        static const uint8_t learned[8] = {1, 1, 6, 0, 0, 0, 0, 0};
        memset(p, 0, sizeof p);
        app_write(srv, &f, p, 300, 0, 9, learned, 8);
        assert_int_equal((uint32_t)p[4] << 24 | (uint32_t)be24(p + 5), xid[flow]);
    }
    assert_int_not_equal(xid[0], xid[1]);
}

/* A DHCP server that is the client net's gateway (the plan's, trace model
 * version 8) says so as a home router does: server identifier, router and
 * DNS server its address (10.0.0.254 of 10.0.0.0/24), the net's mask, a
 * lease time; the Request names the address it asks for and that server.
 * Before: option 53 alone, no router or resolver for a person to match. */
static void test_dhcp_gateway_options(void **state)
{
    (void)state;
    const app *srv = app_of(NS_PROTO_UDP, 67);
    app_flow f;
    memset(&f, 0, sizeof f), f.seed = 7, f.client = 0x0A000005u, f.gw_prefix = 25;
    static const int from[4] = {0, 1, 0, 1};
    static const uint8_t offer[] = {53, 1, 2, 54, 4, 10, 0, 0, 254, 51, 4, 0, 1, 0x51, 0x80, 1, 4, 255, 255, 255, 0,
                                    3, 4, 10, 0, 0, 254, 6, 4, 10, 0, 0, 254, 255};
    static const uint8_t request[] = {53, 1, 3, 50, 4, 10, 0, 0, 5, 54, 4, 10, 0, 0, 254, 255};
    for (int m = 0; m < 4; m++) {
        static uint8_t p[300];
        memset(p, 0, sizeof p);
        app_write(srv, &f, p, 300, from[m], (uint16_t)m, NULL, 0);
        if (m == 0) assert_int_equal(p[240], 53), assert_int_equal(p[242], 1), assert_int_equal(p[243], 255);
        if (m == 1) assert_memory_equal(p + 240, offer, sizeof offer);
        if (m == 2) assert_memory_equal(p + 240, request, sizeof request);
        if (m == 3) assert_int_equal(p[242], 5), assert_memory_equal(p + 243, offer + 3, sizeof offer - 3);
    }
}

/* ----------------------------------------------------------------- tshark */

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16), put16(p + 2, v & 0xffff); }

typedef struct {
    FILE *f;
    uint32_t seq[2];
    int n;
} cap;

/* One Ethernet/IPv4/TCP frame of the flow 10.0.0.1:40000 <-> 198.51.100.1:port. */
static void frame(cap *c, int port, int d, uint8_t flags, const uint8_t *pay, int len)
{
    uint8_t b[14 + 40 + MAXLEN] = {0};
    uint8_t *ip = b + 14, *tcp = ip + 20;
    b[0] = 2, b[5] = 2, b[6] = 2, b[11] = 1, b[12] = 8;
    ip[0] = 0x45, put16(ip + 2, (unsigned)(40 + len)), ip[6] = 0x40, ip[8] = 64, ip[9] = 6;
    uint32_t cli = 0x0a000001, srv = 0xc6336401;
    put32(ip + 12, d ? srv : cli), put32(ip + 16, d ? cli : srv);
    put16(ip + 10, ns_ipv4_header_checksum(ip, 20));
    put16(tcp, d ? (unsigned)port : 40000), put16(tcp + 2, d ? 40000 : (unsigned)port);
    put32(tcp + 4, c->seq[d]), put32(tcp + 8, flags & 0x10 ? c->seq[!d] : 0);
    tcp[12] = 0x50, tcp[13] = flags, put16(tcp + 14, 65535);
    if (len) memcpy(tcp + 20, pay, (size_t)len);
    c->seq[d] += (uint32_t)len + !!(flags & 0x02);
    uint8_t rec[16];
    uint32_t caplen = (uint32_t)(54 + len), t = (uint32_t)c->n++;
    memcpy(rec, (uint32_t[]){1000 + t, 0, caplen, caplen}, 16);
    fwrite(rec, 1, 16, c->f), fwrite(b, 1, caplen, c->f);
}

/* One segment of a test capture: its server port, direction (1: the
 * server's), payload length and learned bytes. */
typedef struct {
    int port, d, len;
    const char *learned;
    int n;
} seg;

/* A capture `name` in a fresh directory: per port of ports[], a handshake,
 * then that port's segments of s[] written by app_write, as repair writes a
 * flow (one app_flow for the port's segments) when `stream`, else each
 * segment alone. Returns its path. */
static const char *segments_pcap(const char *name, const seg *s, size_t n, const int *ports, size_t n_ports, int stream)
{
    const char *path = tu_path(tu_tmpdir(), name);
    cap c = {fopen(path, "wb"), {1000, 5000}, 0};
    assert_non_null(c.f);
    uint8_t hdr[24];
    memcpy(hdr, (uint32_t[]){0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1}, 24);
    fwrite(hdr, 1, 24, c.f);
    for (size_t k = 0; k < n_ports; k++) {
        int port = ports[k];
        const app *a = app_of(NS_PROTO_TCP, (uint16_t)port);
        app_flow f;
        memset(&f, 0, sizeof f);
        f.opened = 1; /* as repair says of a flow it opens with the handshake */
        frame(&c, port, 0, 0x02, NULL, 0), frame(&c, port, 1, 0x12, NULL, 0), frame(&c, port, 0, 0x10, NULL, 0);
        for (size_t i = 0; i < n; i++) {
            if (s[i].port != port) continue;
            uint8_t p[MAXLEN] = {0};
            if (stream) app_write(a, &f, p, s[i].len, s[i].d, 1, (const uint8_t *)s[i].learned, s[i].n);
            else write_payload(a, p, s[i].len, s[i].d, (const uint8_t *)s[i].learned, s[i].n);
            frame(&c, port, s[i].d, 0x18, p, s[i].len);
        }
        c.seq[0] += 100000, c.seq[1] += 100000;
    }
    fclose(c.f);
    return path;
}

/* tshark reads the capture at path with no malformed packet, no expert
 * error, and no expert message matching the awk pattern warn; what it
 * reports is printed first when it fails. */
static void tshark_clean(const char *path, const char *warn)
{
    int status;
    char *out = tu_output(&status, "tshark -r '%s' -T fields -e _ws.malformed -e _ws.expert.severity -e _ws.expert.message 2>/dev/null | "
                                   "awk -F'\\t' '$1 != \"\" { m++ } $2 ~ /8388608/ { e++ } $3 ~ /%s/ { w++ } "
                                   "END { print m + 0, e + 0, w + 0 }'",
                          path, warn);
    assert_int_equal(status, 0);
    int malformed = -1, errors = -1, warnings = -1;
    assert_int_equal(sscanf(out, "%d %d %d", &malformed, &errors, &warnings), 3);
    free(out);
    if (malformed || errors || warnings) tu_system("tshark -r '%s' -q -z expert,warn", path);
    assert_int_equal(malformed, 0), assert_int_equal(errors, 0), assert_int_equal(warnings, 0);
}

/* The packets of the capture at path that tshark (with options opts) shows
 * for the display filter. */
static int tshark_count(const char *path, const char *opts, const char *filter)
{
    int status;
    char *out = tu_output(&status, "tshark -r '%s' %s -Y '%s' 2>/dev/null | wc -l", path, opts, filter);
    assert_int_equal(status, 0);
    int n = atoi(out);
    free(out);
    return n;
}

/* A hello's version is TLS 1.0 to 1.2, the nearest to the generated one (3.1
 * on ties): the payload model's hellos said 3.0, 0.0, 1.0 or 0x4100 where
 * every real one of the IoT corpus says 3.1 or 3.3. hellover takes it back
 * (SSL 3.0 stays 3.0). */
static void test_hello_versions(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443);
    static const struct { uint8_t major, minor, want; int server; } cases[] = {
        {0, 0, 1, 0}, {3, 0, 1, 0}, {1, 0, 1, 1}, {0x41, 0, 1, 1}, {3, 3, 3, 0}, {3, 2, 2, 1}, {3, 7, 3, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t learned[32] = {0x16, 0x03, 0x01, 0x00, 0x70, 0x01, 0x00, 0x00, 0x6c};
        learned[5] = cases[i].server ? 2 : 1;
        learned[9] = cases[i].major, learned[10] = cases[i].minor;
        for (int k = 11; k < 32; k++) learned[k] = (uint8_t)(k * 37);
        uint8_t p[MAXLEN], types[64];
        write_payload(tls, p, 200, cases[i].server, learned, 32);
        assert_int_equal(check_records(p, 200, types), 1), assert_int_equal(types[0], 22);
        assert_int_equal(p[9], 3), assert_int_equal(p[10], cases[i].want);
        assert_memory_equal(p + 11, learned + 11, 21); /* the random as learned */
        app_flow f;
        memset(&f, 0, sizeof f), f.off = APP_OFF_HELLOVER;
        memset(p, 0, 200), app_write(tls, &f, p, 200, cases[i].server, 1, learned, 32);
        if (cases[i].major == 3 && cases[i].minor <= 3) /* else the near-miss rule's 3.0 to 3.3 (tls_hello_near) */
            assert_int_equal(p[9], 3), assert_int_equal(p[10], cases[i].minor);
    }
}

/* A datagram on UDP 1900 too short for its head and a Content-Length or
 * padding header (the payload model's "NOTIFY * HTTP/1.1\r\x0b\x08NCU", 23
 * bytes: tshark threw): its whole lines that fit, the empty line, and the
 * rest as body; a head longer than the datagram is cut after a whole line,
 * or the start line cut. dgramhead leaves them as generated. */
static void test_short_datagram_heads(void **state)
{
    (void)state;
    const app *ssdp = app_of(NS_PROTO_UDP, 1900);
    static const struct { int len; const char *learned, *want; } cases[] = {
        {23, "NOTIFY * HTTP/1.1\r\x0b\x08NCU", "NOTIFY * HTTP/1.1\r\n\r\nCU"},
        {22, "NOTIFY * HTTP/1.1\r\tH\0\0", "NOTIFY * HTTP/1.1\r\n\r\n\0"},
        {23, "NOTIFY * HTTP/1.1\r\nHOST", "NOTIFY * HTTP/1.1\r\n\r\nST"},
        {20, "NOTIFY * HTTP/1.1\r\nX", "NOTIFY * HTTP/1.1\r\n\r"},
        {30, "M-SEARCH * HTTP/1.1\r\nST: x\r\nMX", "M-SEARCH * HTTP/1.1\r\nST: x\r\n\r\n"},
        {15, "NOTIFY * HTTP/1", "NOTIFY * HTTP/1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int len = cases[i].len;
        uint8_t p[MAXLEN];
        write_payload(ssdp, p, len, 0, (const uint8_t *)cases[i].learned, len);
        assert_memory_equal(p, cases[i].want, (size_t)len);
        app_flow f;
        memset(&f, 0, sizeof f), f.off = APP_OFF_DGRAMHEAD;
        memset(p, 0, (size_t)len), app_write(ssdp, &f, p, len, 0, 1, (const uint8_t *)cases[i].learned, len);
        assert_memory_equal(p, cases[i].learned, (size_t)len);
    }
    /* a stream's segment keeps the old rule: its message goes on in the next segment */
    uint8_t p[MAXLEN];
    write_payload(app_of(NS_PROTO_TCP, 80), p, 23, 0, (const uint8_t *)"NOTIFY * HTTP/1.1\r\x0b\x08NCU", 23);
    assert_memory_equal(p, "NOTIFY * HTTP/1.1\r\x0b\x08NCU", 23);
}

/* A DHCP payload the model made short grows to BOOTP's least message, 300
 * bytes, its options whole (message type, end) and zeros after: nDPI 4.2
 * takes no DHCP message under 248 bytes (a 244-byte DISCOVER: unknown). */
static void test_dhcp_least_message(void **state)
{
    (void)state;
    static uint8_t data[MAXLEN];
    for (int port = 67; port <= 68; port++) {
        const app *a = app_of(NS_PROTO_UDP, (uint16_t)port);
        assert_non_null(a);
        assert_int_equal(app_len(a, 10), 300), assert_int_equal(app_len(a, 244), 300);
        assert_int_equal(app_len(a, 342), 342), assert_int_equal(app_len(a, 0), 0);
        write_payload(a, data, 300, port == 67, NULL, 0);
        assert_int_equal(data[0], port == 67 ? 2 : 1);
        static const uint8_t cookie[8] = {99, 130, 83, 99, 53, 1};
        assert_memory_equal(data + 236, cookie, 6);
        assert_int_equal(data[243], 255);
        for (int i = 244; i < 300; i++) assert_int_equal(data[i], 0);
    }
}

/* Segments written by app_write from learned starts that made tshark report
 * malformed packets and expert errors before repair framed them. */
static void test_tshark_reads_them_whole(void **state)
{
    (void)state;
    TU_REQUIRE_PROGRAM("tshark");
    static const seg segs[] = {
        {443, 0, 220, "\x16\x03\x01\x00\xde\x01\x00\x00\xda\x03\x01\x57\xd1\x1f\xac\x75\x72\xc4\x96\x4f\x9f\xbe\x1c\x2a\x11\xc0\x17\x6c\x8b\x98\x41\xbf", 32},
        {443, 1, 1380, "\x16\x03\x01\x00\x51\x02\x00\x00\x4d\x03\x01\x52\x89\x6c\x4d\xc2\xd6\xf0\x83\xaf\x57\x9f\x8b\xae\x3d\x62\x2c\x6f\x83\x4d\x9a\x5f", 32},
        {443, 1, 700, "\x16\x03\x03\x12\xbf\x0b\x00\x12\xbb\x00\x12\xb8\x00\x05\x30\x82", 16},
        {443, 0, 326, "\x16\x03\x01\x01\x06\x10\x00\x01\x02\x01\x00\xb1\xbd\xb1\x27\xc9", 16},
        {443, 0, 16, "\x14\x02\x01\x00\x00\x01\x00\x00\x00\x0b\x00\x11\x82\x6b\x71\x08", 16},
        {443, 1, 60, "\x16\x03\x03\x00\x0f\x04\x00\x00\x0b\x40\x04\x30\x90\x6f\x77\xbc", 16},
        {443, 1, 51, "\x14\x03\x03\x00\x01\x01\x16\x03\x03\x00\x28\x9e\x11\x2f\x70\x05", 16},
        {443, 0, 1000, "\x17\x03\x03\x40\x00\xaa\xbb\xcc", 8},
        {80, 0, 200, "GET /api/v1/device/status?id=12", 31},
        {80, 1, 307, "HTTP/1.1 200 OK\r\nCmfte\x01t-Type: t", 32},
        {80, 0, 180, "POST /upload HTTP/1.0\r\nHost: 10.0", 33},
        {80, 1, 36, "HTTP/1.1 200 OK\r\nServer: x", 26},
    };
    static const int ports[] = {80, 443};
    const char *path = segments_pcap("app.pcap", segs, sizeof segs / sizeof segs[0], ports, 2, 0);
    tshark_clean(path, "Ignored Unknown Record|header name");
    /* and dissected: the four hellos and messages of TLS, the HTTP requests and responses */
    assert_int_equal(tshark_count(path, "", "tls.handshake.type == 1 || tls.handshake.type == 2"), 2);
    assert_int_equal(tshark_count(path, "-o tcp.desegment_tcp_streams:FALSE", "http.request || http.response"), 4);
}

/* Flows through app_flow as repair writes them, segment after segment, from
 * learned starts of the IoT run that made tshark report malformed packets,
 * expert errors or "Ignored Unknown Record" before (tests above show each):
 * none of those now, and no warning of either kind. */
static void test_tshark_reads_streams(void **state)
{
    (void)state;
    TU_REQUIRE_PROGRAM("tshark");
    static const seg segs[] = {
        {443, 0, 220, "\x16\x03\x01\x00\xde\x01\x00\x00\xda\x03\x01\x57\xd1\x1f\xac\x75\x72\xc4\x96\x4f\x9f\xbe\x1c\x2a\x11\xc0\x17\x6c\x8b\x98\x41\xbf", 32},
        {443, 1, 1380, "\x16\x03\x01\x00\x51\x02\x00\x00\x4d\x03\x01\x52\x89\x6c\x4d\xc2\xd6\xf0\x83\xaf\x57\x9f\x8b\xae\x3d\x62\x2c\x6f\x83\x4d\x9a\x5f", 32},
        {443, 1, 19, "\x16\x03\x01\x00\x0e\xff\x3c\x22\x00", 9},          /* a type tshark does not know, its length past the record */
        {443, 1, 57, "\x16\x03\x01\x00\x34\x00\x00\x00\x30\x00", 10},        /* then a consistent message: it failed on "fh" */
        {443, 0, 5, "\x17\x03\x01\x00\x00", 5},                              /* an empty record, malformed */
        {443, 0, 128, "", 0},                                                /* a row without bytes of its own */
        {443, 1, 4, "", 0},                                                  /* 4 bytes, joined with the next by tshark */
        {443, 1, 1061, "\x30\x32\x23\x7f\x31\x30\x22\x10\x50\x22\x73\x30", 12}, /* ciphertext, no record */
        {443, 1, 5, "\x17\x03\x01\x00\x40", 5},                              /* a header alone */
        {443, 1, 64, "\xf7\x47\xde\xbf", 4},                                 /* its body */
        {443, 1, 700, "\x14\x02\x01\x00\x00\x01\x00\x00", 8},
        {80, 0, 120, "GET /api/v1/device/status?id=12", 31},
        {80, 1, 672, "HTTP/1.1 200 OK\r\nCache-Control: ", 32},
        {80, 1, 1448, "Kache-Control: no-ctore, no-cach", 32},               /* a head to tshark: it gathered segments */
        {80, 1, 958, "h}tT#1n5a4p0 nm40S,dsmnqct|tt\"0e", 32},
        {80, 1, 202, "HTTP'1.5 200 OK\x05\nAelmm&t+u|\x10 0\x00\x01", 32},  /* ... until a line ended: malformed */
        {9292, 0, 416, "NOT}~\xfd * HTTP/1.1\r\nHOWT: 239>r55", 32},        /* tshark's HTTP heuristic takes the flow */
        {9292, 0, 96, "NOv}\x7f~sh http", 14},
        {9292, 0, 80, "\xde\xef\x74\x6f\x77\xff\x7f\xfe\x68\xfc", 10},
    };
    static const int ports[] = {443, 80, 9292};
    const char *path = segments_pcap("streams.pcap", segs, sizeof segs / sizeof segs[0], ports, 3, 1);
    tshark_clean(path, "Ignored Unknown Record|header name");
    assert_int_equal(tshark_count(path, "", "tls.handshake.type == 1 || tls.handshake.type == 2"), 2);
}

/* Heads longer than their segment (issue 17's tshark bar): a status line
 * alone in 17 bytes, as the real HueBridge responses send it, and "POST "
 * alone in 5. The segment carries the head as far as it fits and the
 * direction's next segment its rest, its end and the body's length, so that
 * tshark, reassembling the stream, dissects each message; before, the
 * next segment's bytes never ended the head and tshark counted neither.
 * headcont takes it back: both segments as generated. */
static void test_heads_span_segments(void **state)
{
    (void)state;
    const app *http = app_of(NS_PROTO_TCP, 80);
    static const char cache[] = "\0ache-Control: no-store, no-cach";
    app_flow f;
    memset(&f, 0, sizeof f);
    uint8_t p[MAXLEN];
    memset(p, 0, 17), app_write(http, &f, p, 17, 1, 1, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17);
    assert_memory_equal(p, "HTTP/1.1 200 OK\r\n", 17), assert_int_equal(f.head[1], 1);
    memset(p, 0, 605), app_write(http, &f, p, 605, 1, 1, (const uint8_t *)cache, 32);
    STARTS(p, "Content-Length: 582\r\n\r\n"), assert_int_equal(f.head[1], 0);
    /* a request's line cut after its method: the rest of the line first, learned lines kept after it */
    memset(p, 0, 5), app_write(http, &f, p, 5, 0, 1, (const uint8_t *)"POST ", 5);
    assert_memory_equal(p, "POST ", 5);
    memset(p, 0, 8), app_write(http, &f, p, 8, 0, 1, (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_memory_equal(p, "/ HTTP/1", 8);
    memset(p, 0, 100), app_write(http, &f, p, 100, 0, 1, (const uint8_t *)"\x01\x02\x03\x04Host: a\r\nX-Y: b", 19);
    STARTS(p, ".1\r\nHost: a\r\nX-Y: b\r\nContent-Length: 57\r\n\r\n");
    /* a head ending in the segment's last bytes: a padding line begun, ended in the next */
    memset(&f, 0, sizeof f);
    memset(p, 0, 20), app_write(http, &f, p, 20, 1, 1, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17);
    assert_memory_equal(p, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(p, 0, 40), app_write(http, &f, p, 40, 1, 1, NULL, 0);
    STARTS(p, "\r\nContent-Length: 16\r\n\r\n");
    /* the switch: as generated (the next segment a continuation to tshark) */
    memset(&f, 0, sizeof f), f.off = APP_OFF_HEADCONT;
    memset(p, 0, 5), app_write(http, &f, p, 5, 0, 1, (const uint8_t *)"POST ", 5);
    memset(p, 0, 100), app_write(http, &f, p, 100, 0, 1, (const uint8_t *)"Host: a\r\n", 9);
    assert_int_equal(p[0], 0), assert_memory_equal(p + 1, "ost: a\r\n", 8), assert_int_equal(f.head[0], 0);
    /* tshark dissects each message where its head ends */
    TU_REQUIRE_PROGRAM("tshark");
    static const seg segs[] = {
        {80, 0, 5, "POST ", 5},
        {80, 0, 130, "/api/v1 HTTP/1.1\r\nHost: 10.0.0.1", 32},
        {80, 1, 17, "HTTP/1.1 200 OK\r\n", 17},
        {80, 1, 605, "\0ache-Control: no-store, no-cach", 32},
        {80, 0, 29, "GET /api/v1/lights HTTP/1.1\r\n", 29},
        {80, 0, 300, "\0ost: 10.0.0.1\r\n", 16},
        {80, 1, 32, "HTTP/1.1 200 OK\r\nContent-Type: ", 32},
        {80, 1, 900, "`!*&'x", 6},
    };
    static const int ports[] = {80};
    const char *path = segments_pcap("heads.pcap", segs, sizeof segs / sizeof segs[0], ports, 1, 1);
    tshark_clean(path, "header name");
    assert_int_equal(tshark_count(path, "", "http.request"), 2);
    assert_int_equal(tshark_count(path, "", "http.response"), 2);
}

/* A TLS flow's first learned bytes: the client's hello, the server's, and an
 * application-data record, each of another segment's lengths. */
static const uint8_t tls_ch[] = "\x16\x03\x01\x00\xde\x01\x00\x00\xda\x03\x03\x57\xd1\x1f\xac\x75";
static const uint8_t tls_sh[] = "\x16\x03\x03\x00\x51\x02\x00\x00\x4d\x03\x03\x52\x89\x6c\x4d\xc2";
static const uint8_t tls_ad[] = "\x17\x03\x03\x00\x40\xa7\x3c\x11\x90";

/* A TLS flow's state: opened with TCP's handshake or not, off its rules off. */
static app_flow tls_flow(int opened, uint8_t off)
{
    app_flow f;
    memset(&f, 0, sizeof f);
    f.opened = (uint8_t)opened, f.off = off;
    return f;
}

/* A TLS client's first data after both hellos, in a flow that opened with
 * TCP's handshake: a ClientKeyExchange (on the training captures, 895
 * flows) or a ChangeCipherSpec (187), never application data, which the
 * payload model wrote in 661 flows. A record that is no ChangeCipherSpec
 * becomes a ClientKeyExchange, learned body kept (or of the fill); data
 * before the server's hello, later data, a ChangeCipherSpec, a flow
 * without the handshake, and the switch keyx keep application data. */
static void test_client_key_exchange(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443);
    static const uint8_t ccs[] = "\x14\x03\x03\x00\x01\x01\x16\x03\x03";
    for (int v = 0; v < 5; v++) { /* opened; the switch; no handshake; a ChangeCipherSpec; the fill */
        app_flow f = tls_flow(v != 2, v == 1 ? APP_OFF_KEYX : 0);
        uint8_t p[MAXLEN], types[16];
        memset(p, 0, 220), app_write(tls, &f, p, 220, 0, 1, tls_ch, 16);
        assert_int_equal(p[5], 1);
        memset(p, 0, 69), app_write(tls, &f, p, 69, 0, 1, tls_ad, 9); /* before the server's hello: kept */
        assert_int_equal(p[0], 23);
        memset(p, 0, 90), app_write(tls, &f, p, 90, 1, 1, tls_sh, 16);
        assert_int_equal(p[5], 2);
        memset(p, 0, 69), app_write(tls, &f, p, 69, 0, 1, v == 3 ? ccs : v == 4 ? NULL : tls_ad, v == 3 ? 9 : v == 4 ? 0 : 9);
        int k = check_records(p, 69, types);
        if (v == 0 || v == 4) {
            assert_int_equal(k, 1), assert_int_equal(types[0], 22), assert_int_equal(p[5], 16);
            assert_int_equal(be24(p + 6), 60);
            assert_int_equal(p[2], v == 0 ? 3 : 1); /* learned, or the flow's first record's */
        } else {
            assert_int_equal(types[0], v == 3 ? 20 : 23);
        }
        memset(p, 0, 69), app_write(tls, &f, p, 69, 0, 1, tls_ad, 9); /* the next: as before */
        assert_int_equal(p[0], 23);
    }
}

/* A TLS server's data after its hello, before the client's next data, in a
 * flow that opened with TCP's handshake: the learned application data or
 * alert (or the fill) becomes its flight, a Certificate record of an empty
 * list first, then a ServerKeyExchange ending in a ServerHelloDone. A learned
 * ChangeCipherSpec stays one; the switch, a flow without the handshake and
 * the server's data after the client's key exchange keep application data.
 * Fails before srvflight: 0x17 != 0x16. */
static void test_server_flight(void **state)
{
    (void)state;
    const app *tls = app_of(NS_PROTO_TCP, 443);
    static const uint8_t alert[] = "\x15\x03\x03\x00\x02\x02\x28";
    static const uint8_t ccs[] = "\x14\x03\x03\x00\x01\x01";
    for (int v = 0; v < 6; v++) { /* opened; the switch; no handshake; a ChangeCipherSpec; the fill; an alert */
        app_flow f = tls_flow(v != 2, v == 1 ? APP_OFF_SRVFLIGHT : 0);
        uint8_t p[MAXLEN], types[16];
        const uint8_t *pay = v == 3 ? ccs : v == 4 ? NULL : v == 5 ? alert : tls_ad;
        int n_pay = v == 3 ? 6 : v == 4 ? 0 : v == 5 ? 7 : 9;
        memset(p, 0, 220), app_write(tls, &f, p, 220, 0, 1, tls_ch, 16);
        memset(p, 0, 90), app_write(tls, &f, p, 90, 1, 1, tls_sh, 16);
        assert_int_equal(p[5], 2);
        for (int k = 0; k < 2; k++) {
            int len = k ? 200 : 300;
            memset(p, 0, (size_t)len), app_write(tls, &f, p, len, 1, 1, pay, n_pay);
            int r = check_records(p, len, types);
            if (v == 0 || v >= 4) {
                assert_int_equal(r, 1), assert_int_equal(types[0], 22), assert_int_equal(p[5], k ? 12 : 11);
                if (k) assert_int_equal(be24(p + 6), len - 5 - 8), assert_int_equal(p[len - 4], 14);
                else assert_int_equal(be24(p + 6), len - 9), assert_int_equal(be24(p + 9), 0);
            } else {
                assert_int_equal(types[0], v == 3 ? 20 : 23);
            }
        }
        memset(p, 0, 69), app_write(tls, &f, p, 69, 0, 1, tls_ad, 9); /* the client's key exchange */
        assert_int_equal(p[0], v == 2 ? 23 : 22);
        memset(p, 0, 69), app_write(tls, &f, p, 69, 1, 1, tls_ad, 9); /* the server's data after it: as before */
        assert_int_equal(p[0], 23);
    }
    /* tshark reads the flight, the client's key exchange after it, and nothing malformed */
    TU_REQUIRE_PROGRAM("tshark");
    const seg segs[] = {
        {443, 0, 220, (const char *)tls_ch, 16}, {443, 1, 90, (const char *)tls_sh, 16},
        {443, 1, 300, (const char *)tls_ad, 9},  {443, 1, 200, "", 0},
        {443, 0, 69, (const char *)tls_ad, 9},   {443, 1, 69, (const char *)tls_ad, 9},
    };
    static const int ports[] = {443};
    const char *path = segments_pcap("flight.pcap", segs, sizeof segs / sizeof segs[0], ports, 1, 1);
    tshark_clean(path, "TLS");
    static const char *const types[] = {"11", "12", "14", "16"};
    for (int k = 0; k < 4; k++) {
        char filter[40];
        snprintf(filter, sizeof filter, "tls.handshake.type == %s", types[k]);
        assert_int_equal(tshark_count(path, "", filter), 1);
    }
}

/* TCP 210 (Z39.50, BER PDUs of at least 8 bytes to tshark): the segments of
 * the payload model's WeMoSwitch flow there, whose learned bytes and zeros
 * tshark called malformed (8 packets), are each one BER element covering the
 * segment, learned bytes kept past its header; segments under 8 bytes begin
 * the next one's identifier. tshark reads the flow clean. ber takes it back. */
static void test_z3950_segments(void **state)
{
    (void)state;
    static const seg segs[] = {
        {210, 0, 168, "\x14\x02\x01\x00\x20\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x70\x01\x00\x02\x01\x02", 22},
        {210, 1, 116, "\x07\x03\x80\x01\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x20", 15},
        {210, 0, 38, "\x8a\x10\x1c\x98\x00\x02", 6},
        {210, 0, 326, "\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x8a\x80\x02\x02", 20},
        {210, 0, 5, "", 0},
        {210, 0, 3, "\x02\x02\x00", 3},
        {210, 0, 226, "\x02\x02\x00\x00\x07\x12", 6},
        {210, 1, 1380, "", 0},
        {210, 1, 7, "\x00\x00\x00", 3},
        {210, 1, 130, "\x00\x00", 2},
    };
    const app *z = app_of(NS_PROTO_TCP, 210);
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
        int len = segs[i].len;
        uint8_t p[MAXLEN];
        write_payload(z, p, len, segs[i].d, (const uint8_t *)segs[i].learned, segs[i].n);
        if (len < 8) {
            for (int k = 0; k < len; k++) assert_int_equal(p[k], 0xff);
            continue;
        }
        assert_int_equal(p[0], 0x30);
        int h = p[1] < 0x80 ? 2 : 2 + (p[1] & 0x7f), n = p[1] < 0x80 ? p[1] : p[1] == 0x81 ? p[2] : (int)be16(p + 2);
        assert_int_equal(h + n, len);
        if (segs[i].n > h) assert_memory_equal(p + h, segs[i].learned + h, (size_t)(segs[i].n - h));
        app_flow f;
        memset(&f, 0, sizeof f), f.off = APP_OFF_BER;
        memset(p, 0, (size_t)len), app_write(z, &f, p, len, segs[i].d, 1, (const uint8_t *)segs[i].learned, segs[i].n);
        assert_memory_equal(p, segs[i].learned, (size_t)segs[i].n);
    }
    TU_REQUIRE_PROGRAM("tshark");
    static const int ports[] = {210};
    const char *path = segments_pcap("z3950.pcap", segs, sizeof segs / sizeof segs[0], ports, 1, 1);
    tshark_clean(path, "Malformed");
    assert_true(tshark_count(path, "", "z3950") >= 6);
}

/* The MQTT packets in p[0, len) tile it: each remaining length ends on the
 * next packet or the segment's end, fixed flag bits as 3.1.1 has them, and
 * a CONNECT, PUBLISH or SUBSCRIBE body's lengths inside its packet. */
static void check_mqtt(const uint8_t *p, int len)
{
    int at = 0;
    while (at < len) {
        assert_true(len - at >= 2);
        int type = p[at] >> 4, flags = p[at] & 15, r = 0, i = 1;
        for (; i <= 4; i++) {
            r |= (p[at + i] & 0x7f) << (7 * (i - 1));
            if (!(p[at + i] & 0x80)) break;
        }
        const uint8_t *b = p + at + 1 + i;
        assert_true(at + 1 + i + r <= len);
        if (type == 6 || type == 8 || type == 10) assert_int_equal(flags, 2);
        else if (type == 3) assert_true((flags & 6) != 6);
        else assert_int_equal(flags, 0);
        if (type == 1) {
            assert_true(r >= 12);
            STARTS(b, "\0\4MQTT\4");
            assert_int_equal(b[7] & 0xc5, 0);
            assert_int_equal(be16(b + 10), (unsigned)(r - 12));
        } else if (type == 3) {
            assert_true((int)be16(b) + 2 + (flags & 6 ? 2 : 0) <= r);
        } else if (type == 8) {
            assert_int_equal(be16(b + 2), (unsigned)(r - 5));
            assert_true(b[r - 1] <= 2);
        } else if (type == 2 || type == 4 || type == 5 || type == 6 || type == 7 || type == 11) {
            assert_true(r >= 2);
        }
        at += 1 + i + r;
    }
    assert_int_equal(at, len);
}

/* The lab p32 demo's MQTT (tshark: 61 malformed packets before): a CONNECT
 * whose name length ran past it, a PUBLISH whose topic length did, two
 * PUBACKs the second of length 0. A real CONNECT and PUBLISH stay as learned;
 * a segment of no learned bytes (a header-only row) stays as filled. */
static void test_mqtt_packets_hold(void **state)
{
    (void)state;
    const app *m = app_of(NS_PROTO_TCP, 1883);
    uint8_t d[256 + 8];
    /* real (lab/corpus/pcaps/mqtt): CONNECT of 21 bytes, PUBLISH QoS 1 of 66 (32 learned), and
     * two PUBLISHes in one segment of 132 (a training row: the second's bytes past the 32 are fill) */
    static const uint8_t conn[] = {0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 7, 's', 'e', 'n', 's', 'o', 'r', '1'};
    static const uint8_t pub[32] = {0x32, 64, 0, 16, 'l', 'a', 'b', '/', 's', '1', '/', 't', 'e', 'l', 'e', 'm', 'e', 't', 'r', 'y', 0, 1, '{', '"', 's', 'e', 'n', 's', 'o', 'r', '"', ':'};
    write_payload(m, d, 21, 0, conn, 21);
    assert_memory_equal(d, conn, 21);
    write_payload(m, d, 66, 0, pub, 32);
    assert_memory_equal(d, pub, 32);
    check_mqtt(d, 66);
    write_payload(m, d, 132, 0, pub, 32);
    assert_memory_equal(d, pub, 32);
    for (int i = 32; i < 132; i++) assert_int_equal(d[i], 0);
    /* the demo's: CONNECT of remaining length 17 and name length 20 in 21 bytes */
    static const uint8_t bad_conn[] = {0x10, 17, 0, 20, 'L', 'Q', 'T', 0x14, 0, 2, 0, 60, 0, 9, 'a'};
    write_payload(m, d, 21, 0, bad_conn, sizeof bad_conn);
    check_mqtt(d, 21);
    assert_int_equal(be16(d + 2), 4); /* its length 17 holds (a packet of length 0 after it) */
    /* PUBLISH QoS 1, topic length 0x2e in 48: the topic's text (16) is its length */
    uint8_t bad_pub[32];
    memcpy(bad_pub, pub, 32), bad_pub[1] = 48, bad_pub[3] = 0x2e;
    write_payload(m, d, 50, 0, bad_pub, 32);
    check_mqtt(d, 50);
    assert_int_equal(be16(d + 2), 16);
    /* PUBACK of 3, then PUBACK of 0; QoS 3; SUBSCRIBE with flags 0 and a filter past it */
    static const uint8_t acks[] = {0x40, 0x40, 0, 0, 0, 0, 0, 0};
    write_payload(m, d, 8, 1, acks, 8);
    check_mqtt(d, 8);
    static const uint8_t q3[] = {0x36, 1, 0, 0};
    write_payload(m, d, 4, 0, q3, 4);
    check_mqtt(d, 4);
    static const uint8_t sub[] = {0x80, 12, 0, 1, 0, 40, 'l', 'a', 'b', '/', '#', 7};
    write_payload(m, d, 14, 0, sub, sizeof sub);
    check_mqtt(d, 14);
    /* two whole learned packets in one segment stay two */
    static const uint8_t two[] = {0x40, 2, 0, 1, 0x40, 2, 0, 2};
    write_payload(m, d, 8, 1, two, 8);
    assert_memory_equal(d, two, 8);
    /* long segments: a two-byte remaining length */
    write_payload(m, d, 200, 0, pub, 32);
    check_mqtt(d, 200);
    /* a stream's opening: a type byte a bit off CONNECT's is one covering its segment (the demo's
     * CONNECT of 17 in 21 bytes, then a stray PINGREQ), the server's 4 bytes a CONNACK */
    app_flow f;
    memset(&f, 0, sizeof f);
    uint8_t near_conn[sizeof bad_conn];
    memcpy(near_conn, bad_conn, sizeof bad_conn), near_conn[0] = 0x00;
    memset(d, 0, 21);
    app_write(m, &f, d, 21, 0, 0, near_conn, sizeof near_conn);
    check_mqtt(d, 21);
    assert_int_equal(d[0], 0x10);
    assert_int_equal(d[1], 19);
    static const uint8_t near_ack[] = {0x21, 2, 0, 0};
    memset(d, 0, 4);
    app_write(m, &f, d, 4, 1, 0, near_ack, 4);
    assert_int_equal(d[0], 0x20);
    check_mqtt(d, 4);
    /* later segments keep a learned length that holds */
    memset(d, 0, 21);
    app_write(m, &f, d, 21, 0, 0, bad_conn, sizeof bad_conn);
    assert_int_equal(d[1], 17);
    /* no learned bytes: the fill as it was */
    write_payload(m, d, 8, 0, NULL, 0);
    for (int i = 0; i < 8; i++) assert_int_equal(d[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_client_hello_lengths),
        cmocka_unit_test(test_tls_records_tile),
        cmocka_unit_test(test_tls_handshake_messages),
        cmocka_unit_test(test_http_heads),
        cmocka_unit_test(test_tftp_requests),
        cmocka_unit_test(test_random_starts),
        cmocka_unit_test(test_dns_questions_fill_the_message),
        cmocka_unit_test(test_dhcp_least_message),
        cmocka_unit_test(test_dns_response_repeats_query),
        cmocka_unit_test(test_mdns_id_zero),
        cmocka_unit_test(test_mdns_asks_services),
        cmocka_unit_test(test_dhcp_exchange),
        cmocka_unit_test(test_dhcp_gateway_options),
        cmocka_unit_test(test_tls_stream),
        cmocka_unit_test(test_tls_stream_random),
        cmocka_unit_test(test_http_stream),
        cmocka_unit_test(test_udp_other_ports),
        cmocka_unit_test(test_near_misses),
        cmocka_unit_test(test_opened_flows),
        cmocka_unit_test(test_method_prior),
        cmocka_unit_test(test_ssdp_and_http_from_any_bytes),
        cmocka_unit_test(test_dns_names_and_ssdp_binary),
        cmocka_unit_test(test_tshark_reads_them_whole),
        cmocka_unit_test(test_tshark_reads_streams),
        cmocka_unit_test(test_mqtt_packets_hold),
        cmocka_unit_test(test_hello_versions),
        cmocka_unit_test(test_short_datagram_heads),
        cmocka_unit_test(test_z3950_segments),
        cmocka_unit_test(test_heads_span_segments),
        cmocka_unit_test(test_client_key_exchange),
        cmocka_unit_test(test_server_flight),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}

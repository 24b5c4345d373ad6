/* test_capture.c: reading captures of every link type, crafted malformed
 * inputs, BPF filters, skip accounting and checksums. */
#include "testutil.h"

#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/packet.h"

/* An IPv4/TCP SYN with an MSS option and 5 payload bytes; checksums filled. */
static size_t make_ipv4_tcp(uint8_t *b)
{
    static const uint8_t ip[20] = {0x45, 0, 0, 49, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0,
                                   10, 0, 0, 1, 198, 51, 100, 7};
    static const uint8_t tcp[24] = {0xc0, 0x01, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0,
                                    0x60, 0x02, 0xff, 0xff, 0, 0, 0, 0, 2, 4, 0x05, 0xb4};
    memcpy(b, ip, 20);
    memcpy(b + 20, tcp, 24);
    memcpy(b + 44, "hello", 5);
    uint16_t c = ns_ipv4_header_checksum(b, 20);
    b[10] = (uint8_t)(c >> 8), b[11] = (uint8_t)c;
    c = ns_l4_checksum_ipv4(b, 6, b + 20, 29);
    b[36] = (uint8_t)(c >> 8), b[37] = (uint8_t)c;
    return 49;
}

/* IPv6 / hop-by-hop extension / UDP with 4 payload bytes. */
static size_t make_ipv6_udp(uint8_t *b)
{
    memset(b, 0, 64);
    b[0] = 0x60;
    b[5] = 8 + 8 + 4; /* payload length */
    b[6] = 0;         /* next: hop-by-hop */
    b[7] = 64;
    b[8] = 0x20, b[9] = 0x01, b[23] = 1;
    b[24] = 0x20, b[25] = 0x01, b[39] = 2;
    b[40] = 17, b[41] = 0; /* ext: next UDP, 8 bytes */
    b[48] = 0x30, b[49] = 0x39, b[50] = 0, b[51] = 53, b[53] = 12;
    memcpy(b + 56, "abcd", 4);
    return 60;
}

/* Write frames with one link type into a pcap file. */
static const char *write_pcap(int linktype, const uint8_t *const *frames, const size_t *lens, int n)
{
    const char *path = tu_path(tu_tmpdir(), "in.pcap");
    ns_outfile o;
    assert_int_equal(ns_outfile_open(&o, path), NS_OK);
    ns_pcap_writer w;
    assert_int_equal(ns_pcap_writer_begin(&w, o.fp, linktype, 0), NS_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(ns_pcap_write(&w, 1700000000000000000LL + i * 1000LL, frames[i], (uint32_t)lens[i],
                                       (uint32_t)lens[i]),
                         NS_OK);
    assert_int_equal(ns_outfile_commit(&o), NS_OK);
    return path;
}

/* Read the single frame of a capture and decode it. */
static ns_skip_reason read_one(const char *path, ns_packet *p, uint8_t *copy, int *dlt)
{
    ns_capture *c;
    ns_frame f;
    assert_int_equal(ns_capture_open(&c, path, NULL), NS_OK);
    assert_int_equal(ns_capture_next(c, &f), 1);
    assert_int_equal(f.ts_ns, 1700000000000000000LL);
    memcpy(copy, f.data, f.caplen);
    *dlt = ns_capture_linktype(c);
    ns_skip_reason r = ns_packet_parse(p, *dlt, copy, f.caplen);
    assert_int_equal(ns_capture_next(c, &f), 0);
    ns_capture_close(c);
    return r;
}

static void check_tcp(const ns_packet *p)
{
    assert_int_equal(p->ip_version, 4);
    assert_int_equal(p->ip.len, 20);
    assert_int_equal(p->l4_proto, 6);
    assert_int_equal(p->l4.len, 24);
    assert_int_equal(p->payload.len, 5);
    assert_memory_equal(p->payload.data, "hello", 5);
}

/* One link type: header bytes prepended to an IPv4/TCP packet. */
static void roundtrip_link(int linktype, int expect_dlt, const uint8_t *hdr, size_t hlen)
{
    uint8_t frame[256], copy[256];
    if (hlen) memcpy(frame, hdr, hlen);
    size_t n = hlen + make_ipv4_tcp(frame + hlen);
    const uint8_t *frames[] = {frame};
    const char *path = write_pcap(linktype, frames, &n, 1);
    ns_packet p;
    int dlt;
    assert_int_equal(read_one(path, &p, copy, &dlt), NS_SKIP_NONE);
    assert_int_equal(dlt, expect_dlt);
    check_tcp(&p);
}

static void test_ethernet(void **state)
{
    (void)state;
    uint8_t eth[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00};
    roundtrip_link(1, DLT_EN10MB, eth, sizeof eth);
}

static void test_ethernet_vlan_and_qinq(void **state)
{
    (void)state;
    uint8_t one[18] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00};
    roundtrip_link(1, DLT_EN10MB, one, sizeof one);
    uint8_t two[22] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa8, 0x00, 0x0a,
                       0x81, 0x00, 0x00, 0x64, 0x08, 0x00};
    roundtrip_link(1, DLT_EN10MB, two, sizeof two);
}

static void test_raw_ip(void **state)
{
    (void)state;
    roundtrip_link(NS_LINKTYPE_RAW, DLT_RAW, NULL, 0);
    roundtrip_link(NS_LINKTYPE_IPV4, DLT_IPV4, NULL, 0);
}

static void test_linux_cooked(void **state)
{
    (void)state;
    uint8_t sll[16] = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00};
    roundtrip_link(113, DLT_LINUX_SLL, sll, sizeof sll);
    uint8_t sll2[20] = {0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0};
    roundtrip_link(276, DLT_LINUX_SLL2, sll2, sizeof sll2);
}

static void test_bsd_loopback(void **state)
{
    (void)state;
    uint8_t null_le[4] = {2, 0, 0, 0}; /* AF_INET, little-endian host */
    roundtrip_link(0, DLT_NULL, null_le, 4);
    uint8_t null_be[4] = {0, 0, 0, 2}; /* AF_INET, big-endian host */
    roundtrip_link(0, DLT_NULL, null_be, 4);
    uint8_t loop[4] = {0, 0, 0, 2};
    roundtrip_link(108, DLT_LOOP, loop, 4);
}

static void test_ipv6_extension_header(void **state)
{
    (void)state;
    uint8_t pkt[64];
    size_t n = make_ipv6_udp(pkt);
    ns_packet p;
    assert_int_equal(ns_packet_parse(&p, DLT_RAW, pkt, n), NS_SKIP_NONE);
    assert_int_equal(p.ip_version, 6);
    assert_int_equal(p.l4_proto, 17);
    assert_int_equal(p.l4.len, 8);
    assert_int_equal(p.payload.len, 4);
    /* The extension header claims more bytes than there are. */
    pkt[41] = 9;
    assert_int_equal(ns_packet_parse(&p, DLT_RAW, pkt, n), NS_SKIP_TRUNC_IPV6);
}

/* Every prefix of a valid frame decodes without reading past it (ASan checks
 * the reads: each prefix lives in a buffer of exactly that size). */
static void test_every_prefix_is_safe(void **state)
{
    (void)state;
    uint8_t frame[128];
    uint8_t eth[18] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00};
    memcpy(frame, eth, sizeof eth);
    size_t n = sizeof eth + make_ipv4_tcp(frame + sizeof eth);
    for (size_t len = 0; len <= n; len++) {
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, frame, len);
        ns_packet p;
        ns_skip_reason r = ns_packet_parse(&p, DLT_EN10MB, exact, len);
        if (len < 18) assert_int_equal(r, NS_SKIP_TRUNC_LINK);
        else if (len < 18 + 20) assert_int_equal(r, NS_SKIP_TRUNC_IPV4);
        else if (len < 18 + 44) assert_int_equal(r, NS_SKIP_TRUNC_TCP);
        else assert_int_equal(r, NS_SKIP_NONE);
        if (len >= 18 + 44) assert_int_equal(p.payload.len, len - 18 - 44);
        free(exact);
    }
}

static void test_malformed_headers(void **state)
{
    (void)state;
    uint8_t pkt[64];
    ns_packet p;
    size_t n = make_ipv4_tcp(pkt);
    pkt[0] = 0x44; /* IHL 4: below the minimum */
    assert_int_equal(ns_packet_parse(&p, DLT_RAW, pkt, n), NS_SKIP_BAD_IPV4);
    n = make_ipv4_tcp(pkt);
    pkt[2] = 0, pkt[3] = 10; /* total length shorter than the header */
    assert_int_equal(ns_packet_parse(&p, DLT_RAW, pkt, n), NS_SKIP_BAD_IPV4);
    n = make_ipv4_tcp(pkt);
    pkt[32] = 0x40; /* TCP data offset 4 */
    assert_int_equal(ns_packet_parse(&p, DLT_RAW, pkt, n), NS_SKIP_BAD_TCP);
    n = make_ipv4_tcp(pkt);
    pkt[6] = 0x00, pkt[7] = 0x10; /* fragment offset 16 */
    assert_int_equal(ns_packet_parse(&p, DLT_RAW, pkt, n), NS_SKIP_FRAGMENT);
    n = make_ipv4_tcp(pkt);
    pkt[9] = 47; /* GRE */
    assert_int_equal(ns_packet_parse(&p, DLT_RAW, pkt, n), NS_SKIP_OTHER_L4);
    pkt[0] = 0x75; /* neither 4 nor 6 */
    assert_int_equal(ns_packet_parse(&p, DLT_RAW, pkt, n), NS_SKIP_NON_IP);
    uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06};
    assert_int_equal(ns_packet_parse(&p, DLT_EN10MB, arp, sizeof arp), NS_SKIP_NON_IP);
    assert_int_equal(ns_packet_parse(&p, 147 /* DLT_USER0 */, arp, sizeof arp), NS_SKIP_LINKTYPE);
    /* Ethernet padding after a short IP packet is not payload. */
    uint8_t padded[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00};
    n = make_ipv4_tcp(padded + 14);
    assert_int_equal(ns_packet_parse(&p, DLT_EN10MB, padded, 64), NS_SKIP_NONE);
    assert_int_equal(p.payload.len, 5);
}

static void test_not_a_capture(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *text = tu_path(dir, "notes.txt");
    assert_int_equal(tu_write_file(text, "this is not a capture file at all\n", 34), 0);
    ns_capture *c;
    assert_int_equal(ns_capture_open(&c, text, NULL), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), text));
    assert_non_null(strstr(ns_errmsg(), "not a pcap or pcapng"));

    const char *empty = tu_path(dir, "empty.pcap");
    assert_int_equal(tu_write_file(empty, "", 0), 0);
    assert_int_equal(ns_capture_open(&c, empty, NULL), NS_ETRUNC);
    assert_non_null(strstr(ns_errmsg(), empty));

    assert_int_equal(ns_capture_open(&c, tu_path(dir, "missing.pcap"), NULL), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "missing.pcap"));
}

static void test_truncated_last_record(void **state)
{
    (void)state;
    uint8_t frame[64];
    size_t n = make_ipv4_tcp(frame);
    const uint8_t *frames[] = {frame, frame, frame};
    size_t lens[] = {n, n, n};
    const char *path = write_pcap(NS_LINKTYPE_RAW, frames, lens, 3);
    uint8_t *data;
    size_t len;
    assert_int_equal(ns_read_file(path, &data, &len), NS_OK);
    for (size_t cut = 1; cut < 16 + n; cut++) { /* cut inside the last record's header or data */
        assert_int_equal(tu_write_file(path, data, len - cut), 0);
        ns_capture *c;
        ns_frame f;
        assert_int_equal(ns_capture_open(&c, path, NULL), NS_OK);
        assert_int_equal(ns_capture_next(c, &f), 1);
        assert_int_equal(ns_capture_next(c, &f), 1);
        assert_int_equal(ns_capture_next(c, &f), 0);
        assert_int_equal(ns_capture_truncated_records(c), 1);
        /* What was lost: one packet and the bytes after the second record. */
        ns_capture_cut info;
        ns_capture_cut_info(c, &info);
        assert_int_equal(info.records, 1);
        assert_int_equal(info.packets, 2);
        assert_int_equal(info.bytes_lost, (int64_t)(16 + n - cut));
        assert_int_equal(info.garbled, 0);
        char msg[512], want[512];
        ns_capture_cut_format("x.pcap", &info, msg, sizeof msg);
        snprintf(want, sizeof want, "x.pcap: truncated capture: the last record (packet 3) is cut short; 1 packet "
                 "(%zu bytes) lost, the 2 before it used", 16 + n - cut);
        assert_string_equal(msg, want);
        ns_capture_close(c);
    }
    /* A garbled record header (a length past any snapshot) ends the capture too. */
    memcpy(data + len - 16 - n + 8, "\xff\xff\xff\x7f", 4);
    assert_int_equal(tu_write_file(path, data, len), 0);
    ns_capture *c;
    ns_frame f;
    assert_int_equal(ns_capture_open(&c, path, NULL), NS_OK);
    assert_int_equal(ns_capture_next(c, &f), 1);
    assert_int_equal(ns_capture_next(c, &f), 1);
    assert_int_equal(ns_capture_next(c, &f), 0);
    ns_capture_cut cut;
    ns_capture_cut_info(c, &cut);
    assert_int_equal(cut.records, 1);
    assert_int_equal(cut.garbled, 1);
    assert_int_equal(cut.bytes_lost, (int64_t)(16 + n));
    ns_capture_close(c);
    /* A whole capture: nothing to say. */
    assert_int_equal(tu_write_file(path, data, len - 16 - n), 0);
    assert_int_equal(ns_capture_open(&c, path, NULL), NS_OK);
    while (ns_capture_next(c, &f) == 1) {}
    ns_capture_cut_info(c, &cut);
    assert_int_equal(cut.records, 0);
    assert_int_equal(cut.packets, 2);
    char msg[8];
    assert_int_equal(ns_capture_cut_format("x.pcap", &cut, msg, sizeof msg), 0);
    assert_string_equal(msg, "");
    ns_capture_close(c);
    free(data);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* pcapng in host order */

/* A pcapng of one raw IPv4 packet at ts (in microseconds, the default
 * resolution); returns its path. */
static const char *write_pcapng(uint64_t ts)
{
    uint8_t pkt[64];
    size_t n = make_ipv4_tcp(pkt);
    uint8_t file[256] = {0};
    size_t at = 0;
    /* Section header block. */
    put32(file, 0x0A0D0D0A), put32(file + 4, 28), put32(file + 8, 0x1A2B3C4D);
    file[12] = 1, file[14] = 0;
    memset(file + 16, 0xff, 8);
    put32(file + 24, 28);
    at = 28;
    /* Interface description block: raw IPv4, microsecond resolution. */
    put32(file + at, 1), put32(file + at + 4, 20), put32(file + at + 8, NS_LINKTYPE_RAW);
    put32(file + at + 12, 0), put32(file + at + 16, 20);
    at += 20;
    /* Enhanced packet block. */
    size_t padded = (n + 3) & ~(size_t)3, blen = 32 + padded;
    put32(file + at, 6), put32(file + at + 4, (uint32_t)blen), put32(file + at + 8, 0);
    put32(file + at + 12, (uint32_t)(ts >> 32)), put32(file + at + 16, (uint32_t)ts);
    put32(file + at + 20, (uint32_t)n), put32(file + at + 24, (uint32_t)n);
    memcpy(file + at + 28, pkt, n);
    put32(file + at + 28 + padded, (uint32_t)blen);
    at += blen;
    const char *path = tu_path(tu_tmpdir(), "in.pcapng");
    assert_int_equal(tu_write_file(path, file, at), 0);
    return path;
}

static void test_pcapng(void **state)
{
    (void)state;
    const char *path = write_pcapng(1700000000000000ULL);
    ns_packet p;
    uint8_t copy[256];
    int dlt;
    assert_int_equal(read_one(path, &p, copy, &dlt), NS_SKIP_NONE);
    check_tcp(&p);
}

/* Issue 12 defect 8: pcapng times are 64-bit in any unit; tv_sec * 1e9
 * overflowed (UBSan) and wrapped ts_ns in a release build. Times within
 * +-2^62 ns of 1970 pass, others are a clear error naming file and packet. */
static void test_pcapng_huge_timestamp(void **state)
{
    (void)state;
    static const uint64_t bad[] = {UINT64_MAX, UINT64_MAX / 2, 9223372036854775ULL + 1, 4611686018427388ULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = write_pcapng(bad[i]);
        ns_capture *c;
        ns_frame f;
        assert_int_equal(ns_capture_open(&c, path, NULL), NS_OK);
        assert_int_equal(ns_capture_next(c, &f), NS_ERANGE);
        if (!strstr(ns_errmsg(), path) || !strstr(ns_errmsg(), "packet 1: timestamp"))
            fail_msg("%llu us: %s", (unsigned long long)bad[i], ns_errmsg());
        ns_capture_close(c);
    }
    /* The last microsecond below 2^62 ns, and the year 2106 of classic pcap, still read. */
    static const uint64_t good[] = {4611686018427387ULL, 4294967295000000ULL};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ns_capture *c;
        ns_frame f;
        assert_int_equal(ns_capture_open(&c, write_pcapng(good[i]), NULL), NS_OK);
        assert_int_equal(ns_capture_next(c, &f), 1);
        assert_int_equal(f.ts_ns, (int64_t)good[i] * 1000);
        ns_capture_close(c);
    }
    /* The CLI: exit 1 with that message, no output file. */
    const char *path = write_pcapng(UINT64_MAX), *dir = tu_tmpdir();
    assert_int_equal(tu_system("%s encode -P %s -W %s/o.csv 2>%s/err", tu_netsynth_bin(), path, dir, dir), 1);
    assert_int_equal(tu_system("grep -q 'packet 1: timestamp .* outside the years 1823 to 2116' %s/err && "
                               "test ! -e %s/o.csv", dir, dir), 0);
}

static void test_bpf_filter(void **state)
{
    (void)state;
    uint8_t tcp[64], udp[64];
    size_t lens[] = {make_ipv4_tcp(tcp), 0, 0};
    make_ipv4_tcp(udp);
    /* Rewrite the copy as UDP 53 -> 53 with an 8-byte header. */
    udp[9] = 17, udp[2] = 0, udp[3] = 28;
    udp[20] = 0, udp[21] = 53, udp[22] = 0, udp[23] = 53, udp[24] = 0, udp[25] = 8;
    lens[1] = 28, lens[2] = lens[0];
    const uint8_t *frames[] = {tcp, udp, tcp};
    const char *path = write_pcap(NS_LINKTYPE_RAW, frames, lens, 3);
    ns_capture *c;
    ns_frame f;
    assert_int_equal(ns_capture_open(&c, path, "udp port 53"), NS_OK);
    assert_int_equal(ns_capture_next(c, &f), 1);
    assert_int_equal(f.caplen, 28);
    assert_int_equal(ns_capture_next(c, &f), 0);
    ns_capture_close(c);
    assert_int_equal(ns_capture_open(&c, path, "tcp port 443"), NS_OK);
    int count = 0;
    while (ns_capture_next(c, &f) == 1) count++;
    assert_int_equal(count, 2);
    ns_capture_close(c);
    assert_int_equal(ns_capture_open(&c, path, "tcp port ((("), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "bad filter"));
}

static void test_skip_summary(void **state)
{
    (void)state;
    ns_skips s = {{0}};
    char buf[256];
    assert_int_equal(ns_skips_format(&s, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    ns_skips_add(&s, NS_SKIP_LINKTYPE);
    ns_skips_add(&s, NS_SKIP_TRUNC_IPV4);
    ns_skips_add(&s, NS_SKIP_TRUNC_IPV4);
    ns_skips_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "skipped 3 packets: 2 truncated IPv4, 1 unknown link type");
    /* A small buffer truncates but reports the full length. */
    char small[10];
    int want = ns_skips_format(&s, small, sizeof small);
    assert_int_equal(want, (int)strlen(buf));
    assert_string_equal(small, "skipped 3");
}

static void test_checksums(void **state)
{
    (void)state;
    /* The textbook header: 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7. */
    uint8_t ip[20] = {0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xff, 0xff,
                      0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7};
    assert_int_equal(ns_ipv4_header_checksum(ip, 20), 0xb861);
    /* A filled-in TCP checksum makes the whole pseudo-header sum 0xffff. */
    uint8_t pkt[64];
    size_t n = make_ipv4_tcp(pkt);
    uint32_t sum = ns_inet_sum(0, pkt + 12, 8) + 6 + (uint32_t)(n - 20);
    assert_int_equal(ns_inet_fold(ns_inet_sum(sum, pkt + 20, n - 20)), 0xffff);
    assert_int_equal(ns_inet_fold(ns_inet_sum(0, pkt, 20)), 0xffff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ethernet),
        cmocka_unit_test(test_ethernet_vlan_and_qinq),
        cmocka_unit_test(test_raw_ip),
        cmocka_unit_test(test_linux_cooked),
        cmocka_unit_test(test_bsd_loopback),
        cmocka_unit_test(test_ipv6_extension_header),
        cmocka_unit_test(test_every_prefix_is_safe),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_not_a_capture),
        cmocka_unit_test(test_truncated_last_record),
        cmocka_unit_test(test_pcapng),
        cmocka_unit_test(test_pcapng_huge_timestamp),
        cmocka_unit_test(test_bpf_filter),
        cmocka_unit_test(test_skip_summary),
        cmocka_unit_test(test_checksums),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}

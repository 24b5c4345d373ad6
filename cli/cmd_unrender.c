/* cmd_unrender.c: `netsynth unrender`, a flow image -> nPrint CSV. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/image.h"
#include "netsynth/nprint.h"

/* nPrint's -4 -t -u -i rows, the model's before it learnt IPv6: still a width an image may have. */
#define V4_LAYERS (NS_NP_IPV4 | NS_NP_TCP | NS_NP_UDP | NS_NP_ICMP)
#define V4_WIDTH (NS_NP_BITS_IPV4 + NS_NP_BITS_TCP + NS_NP_BITS_UDP + NS_NP_BITS_ICMP)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: netsynth unrender IMAGE.png [-o out.csv] [--scale S] [--layers LIST]\n"
            "\n"
            "Reads an image `netsynth render` drew (or any PNG in its colours, even a\n"
            "blurred one: each pixel snaps to the nearest of red 1, green 0, grey -1)\n"
            "and writes its rows as nPrint CSV. The columns are named after the layers\n"
            "the width implies: %d = ipv4,ipv6,tcp,udp,icmp,payload (a model row, the\n"
            "payload as -p 64 names it); %d = ipv4,ipv6,tcp,udp,icmp; %d = ipv4,tcp,udp,icmp;\n"
            "%d = eth,ipv4,ipv6,tcp,udp,icmp;\n"
            "any other width gets bit_0, bit_1, ... The first column is src_ip, read\n"
            "from the row's own address bits (0.0.0.0 where they are -1).\n"
            "\n"
            "  -o FILE        output (default stdout); written atomically\n"
            "  --scale S      pixels per bit along each side (1..%d; default: what the\n"
            "                 image records, else 1)\n"
            "  --layers LIST  name the columns for these layers instead, e.g. ipv4,udp\n"
            "                 (comma-separated from eth ipv4 ipv6 tcp udp icmp; their\n"
            "                 width must match the image's)\n"
            "  -q, --quiet    accepted as every verb does (unrender prints only errors)\n"
            "  -V, --version  print the version\n"
            "  -h, --help     this text\n",
            NS_NP_MODEL_WIDTH, ns_nprint_width(NS_NP_MODEL_LAYERS & ~NS_NP_PAY), V4_WIDTH, NS_NP_MAX_WIDTH,
            NS_IMAGE_MAX_SCALE);
}

static int parse_layers(const char *text, unsigned *layers)
{
    static const unsigned all[] = {NS_NP_ETH, NS_NP_IPV4, NS_NP_IPV6, NS_NP_TCP, NS_NP_UDP, NS_NP_ICMP};
    *layers = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, ",");
        unsigned found = 0;
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            const char *name = ns_nprint_layer_name(all[i]);
            if (strlen(name) == n && !strncmp(p, name, n)) found = all[i];
        }
        if (!found) return ns_error(NS_EARG, "--layers: unknown layer '%.*s' (eth ipv4 ipv6 tcp udp icmp)", (int)n, p);
        *layers |= found;
        p += n + (p[n] == ',');
    }
    if (!*layers) return ns_error(NS_EARG, "--layers: no layer given");
    return NS_OK;
}

/* The row's source address (nPrint's default index) from its bits, or 0.0.0.0. */
static void src_ip(const int8_t *row, unsigned layers, char *buf, size_t size)
{
    int bits = 0, off = -1;
    if (layers & NS_NP_IPV4) {
        bits = NS_NP_BITS_IPV4_SRC;
        off = ns_nprint_field_col(layers, NS_NPF_IPV4_SRC);
        if (row[ns_nprint_layer_offset(layers, NS_NP_IPV4)] == -1 && layers & NS_NP_IPV6) off = -1;  /* no IPv4 header here */
    }
    if (off < 0 && layers & NS_NP_IPV6) {
        bits = NS_NP_BITS_IPV6_SRC;
        off = ns_nprint_field_col(layers, NS_NPF_IPV6_SRC);
    }
    uint8_t addr[16] = {0};
    for (int i = 0; off >= 0 && i < bits; i++) {
        if (row[off + i] < 0) {
            bits = 0;
            break;
        }
        addr[i / 8] |= (uint8_t)(row[off + i] << (7 - i % 8));
    }
    if (off < 0 || bits == 0 || !inet_ntop(bits == 32 ? AF_INET : AF_INET6, addr, buf, (socklen_t)size))
        snprintf(buf, size, "0.0.0.0");
}

static int write_named(FILE *fp, const int8_t *m, int rows, unsigned layers)
{
    int width = ns_nprint_width(layers);
    int rc = ns_nprint_csv_write_header(fp, "src_ip", 0, layers);
    for (int i = 0; !rc && i < rows; i++) {
        char ip[64];
        src_ip(m + (size_t)i * width, layers, ip, sizeof ip);
        rc = ns_nprint_csv_write_row(fp, ip, -1, m + (size_t)i * width, layers);
    }
    return rc;
}

/* Columns named bit_0 .. bit_{cols-1}, index 0.0.0.0. */
static int write_generic(FILE *fp, const int8_t *m, int rows, int cols)
{
    fputs("src_ip", fp);
    for (int j = 0; j < cols; j++) fprintf(fp, ",bit_%d", j);
    fputc('\n', fp);
    for (int i = 0; i < rows; i++) {
        fputs("0.0.0.0", fp);
        for (int j = 0; j < cols; j++) fprintf(fp, ",%d", m[(size_t)i * cols + j]);
        fputc('\n', fp);
    }
    return NS_OK;  /* write errors surface at ns_outfile_commit() */
}

int cmd_unrender(int argc, char **argv)
{
    enum { O_SCALE = 256, O_LAYERS };
    static const struct option longopts[] = {
        {"scale", required_argument, NULL, O_SCALE}, {"layers", required_argument, NULL, O_LAYERS},
        {"output", required_argument, NULL, 'o'},    {"help", no_argument, NULL, 'h'},
        {"quiet", no_argument, NULL, 'q'},           {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *out = "-";
    unsigned layers = 0;
    int scale = 0, c, rc;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:hqV", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case O_SCALE:
            if ((rc = cli_parse_long("--scale", optarg, 1, NS_IMAGE_MAX_SCALE, &v))) return rc;
            scale = (int)v;
            break;
        case O_LAYERS:
            if ((rc = parse_layers(optarg, &layers))) return rc;
            break;
        case 'q': break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (netsynth unrender --help)", argv[optind - 1]);
        }
    }
    if (optind == argc) return ns_error(NS_EARG, "no image given (netsynth unrender IMAGE.png)");
    if (optind + 1 < argc) return ns_error(NS_EARG, "unexpected argument '%s' (one image at a time)", argv[optind + 1]);
    const char *in = argv[optind];

    int8_t *m;
    int rows, cols;
    if ((rc = ns_image_read(in, scale, &m, &rows, &cols))) return rc;
    if (layers && ns_nprint_width(layers) != cols)
        rc = ns_error(NS_EARG, "%s: the image is %d bits wide, --layers gives %d", in, cols, ns_nprint_width(layers));
    unsigned headers = NS_NP_MODEL_LAYERS & ~NS_NP_PAY;   /* a model row without payload, as encode -4 -6 -t -u -i */
    if (!layers)
        layers = cols == NS_NP_MODEL_WIDTH ? NS_NP_MODEL_LAYERS : cols == ns_nprint_width(headers) ? headers
               : cols == NS_NP_MAX_WIDTH ? NS_NP_ALL : cols == V4_WIDTH ? V4_LAYERS : 0;
    ns_outfile of;
    if (!rc && !(rc = ns_outfile_open(&of, out))) {
        rc = layers ? write_named(of.fp, m, rows, layers) : write_generic(of.fp, m, rows, cols);
        if (rc) {
            ns_outfile_abort(&of);
            rc = ns_error_wrap(rc, "%s", out);
        } else {
            rc = ns_outfile_commit(&of);
        }
    }
    free(m);
    return rc;
}

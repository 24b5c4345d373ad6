/* nprint.h: packets <-> nPrint bit rows (nPrint 1.2.1 column order and names).
 *
 * A row holds one int8 per header bit: 1, 0, or -1 where the packet does not
 * have that header (or that option byte). Headers always appear in the order
 * eth, ipv4, ipv6, tcp, udp, icmp, whichever of them `layers` selects.
 * Widths: eth 112, ipv4 480, ipv6 320, tcp 480, udp 64, icmp 64 bits. */
#ifndef NETSYNTH_NPRINT_H
#define NETSYNTH_NPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "netsynth/packet.h"

enum {
    NS_NP_ETH = 1u << 0,
    NS_NP_IPV4 = 1u << 1,
    NS_NP_IPV6 = 1u << 2,
    NS_NP_TCP = 1u << 3,
    NS_NP_UDP = 1u << 4,
    NS_NP_ICMP = 1u << 5,
};
/* What the model learns: IPv4, TCP, UDP, ICMP = 1088 bits. */
#define NS_NP_MODEL_LAYERS (NS_NP_IPV4 | NS_NP_TCP | NS_NP_UDP | NS_NP_ICMP)
#define NS_NP_MODEL_WIDTH 1088

/* Bits in a row for these layers. */
int ns_nprint_width(unsigned layers);
/* Column where `layer` (one NS_NP_* bit) starts in a row of `layers`, or -1. */
int ns_nprint_layer_offset(unsigned layers, unsigned layer);

/* One named header field, e.g. {"tcp_dprt", NS_NP_TCP, 16, 16}. */
typedef struct ns_nprint_field {
    const char *name;      /* nPrint's prefix, e.g. "ipv4_ttl" */
    unsigned layer;        /* NS_NP_* */
    int bit;               /* first bit within its layer */
    int width;             /* bits */
} ns_nprint_field;
/* Every field of every layer, in column order. */
const ns_nprint_field *ns_nprint_fields(size_t *count);

/* Encode a decoded packet's headers into row[ns_nprint_width(layers)]. */
void ns_nprint_encode(const ns_packet *p, unsigned layers, int8_t *row);

#endif

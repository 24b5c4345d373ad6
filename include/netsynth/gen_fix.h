/* gen_fix.h: hard constraints on generated rows (generate --fix).
 *
 * Values every generated row holds, clamped at every denoising step (the
 * x_0 estimate's analog values of those columns are set to their encodings,
 * inpainting style) and set again at decode, also in the columns the model
 * keeps constant. One value per column for a client->server row and one for
 * a server->client row: a port field names the server's port, so
 * tcp_dprt=443 is the destination port of the client's packets and the
 * source port of the server's. ns_gen_opts.fix (generate.h) takes them. */
#ifndef NETSYNTH_GEN_FIX_H
#define NETSYNTH_GEN_FIX_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stdint.h>

#include "netsynth/nprint.h"

enum { NS_GEN_FREE = -2, NS_GEN_PRESENT = 2 };   /* besides -1, 0, 1 */
typedef struct ns_gen_fix {
    int n;                                       /* constraints added */
    int8_t col[2][NS_NP_MODEL_WIDTH];            /* [direction][column] */
} ns_gen_fix;

void ns_gen_fix_init(ns_gen_fix *f);
/* Add "FIELD=VALUE" (an nPrint field of the model's layers, ns_nprint_fields,
 * VALUE decimal or 0x hex; a transport's field implies that transport) or
 * "proto=tcp|udp|icmp". NS_EARG for an unknown field, a value too wide for
 * it, a field repair always sets (addresses, checksums, the client port) or
 * one that contradicts what was added before; f is then unchanged. */
int ns_gen_fix_add(ns_gen_fix *f, const char *text);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif

/* features.h: flows of a dataset -> feature vectors for a classifier.
 *
 * Two kinds, computed from a flow's first n_packets packets, so that real
 * and synthetic flows are seen through the same window (NetFlow features
 * also from the whole flow, as NetFlow sees it):
 * - nPrint: the rows back to back (n_packets * 1920 int8 values), rows past
 *   the flow's end all -1, and the IP address and port bits (ipv4_src,
 *   ipv4_dst, tcp_sprt, tcp_dprt, udp_sport, udp_dport) set to -1 so a
 *   classifier cannot key on them;
 * - NetFlow: NS_FEATURES_NETFLOW_DIM floats (duration, packets and bytes per
 *   direction, protocol, sizes and inter-arrival times, TCP flags seen),
 *   from the rows' IPv4 and TCP fields, directions and inter-arrival times. A
 *   row without IPv4 bits (a synthetic "absent" packet) does not count.
 *   n_packets 0: the whole flow, every row the dataset kept; where it cut
 *   the flow (its totals count more packets than its rows), the packets,
 *   bytes and TCP flags per direction and the mean size are the totals',
 *   the duration, gaps and size spread the kept rows'.
 *
 * The dataset's rows must be NS_NP_MODEL_LAYERS (IPv4+TCP+UDP+ICMP). Flows
 * are taken in the order of idx[0..n) (idx NULL: every flow, in order). */
#ifndef NETSYNTH_FEATURES_H
#define NETSYNTH_FEATURES_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/dataset.h"

#define NS_FEATURES_NETFLOW_DIM 20

/* Values per flow of the nPrint features: n_packets * NS_NP_MODEL_WIDTH. */
size_t ns_features_nprint_dim(int n_packets);
/* x[n * ns_features_nprint_dim(n_packets)] */
int ns_features_nprint(const ns_dataset *ds, const uint64_t *idx, size_t n, int n_packets, int8_t *x);
/* Set the address, port and checksum bits of one model-width row to -1
 * (checksums are sums over the addresses: they would name the hosts). */
void ns_features_blank_row(int8_t *row);

/* x[n * NS_FEATURES_NETFLOW_DIM]; n_packets 0: whole flows (above) */
int ns_features_netflow(const ns_dataset *ds, const uint64_t *idx, size_t n, int n_packets, float *x);
/* Name of NetFlow feature j, e.g. "bytes_fwd". */
const char *ns_features_netflow_name(int j);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif

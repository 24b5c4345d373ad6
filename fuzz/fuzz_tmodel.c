/* fuzz_tmodel.c: libFuzzer target for the trace model's bytes (tmodel.h),
 * the model file's trace section. Its CRC stops most mutations early, so
 * each input is also tried with its CRC recomputed: that is what reaches the
 * size, name and count checks. A model that parses is also planned with
 * (TCP flows' closes and UDP flows' groups too), which must not fail for
 * any class it holds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/fileio.h"
#include "netsynth/generate.h"
#include "netsynth/nprint.h"
#include "netsynth/tmodel.h"

static void use(const ns_tmodel *tm)
{
    enum { N = 8 };
    static int8_t rows[N * NS_NP_MODEL_WIDTH];
    static uint8_t dir[N];
    static uint32_t len[N];
    static size_t first[N];
    memset(rows, -1, sizeof rows);
    for (int i = 0; i < N; i++) len[i] = 1, first[i] = (size_t)i, dir[i] = 0;
    /* Half the flows TCP (a SYN alone, a FIN, an RST, an ACK), so that their closes are planned too. */
    static const uint8_t flags[4] = {0x02, 0x11, 0x04, 0x10};
    for (int i = 0; i < 4; i++) {
        int8_t *row = rows + (size_t)i * NS_NP_MODEL_WIDTH;
        ns_nprint_put(row, NS_NPF_TCP_SPRT, 40000), ns_nprint_put(row, NS_NPF_TCP_DPRT, 443);
        ns_nprint_bits_put(row, NS_NP_COL_TCP_CWR, NS_NP_BITS_TCP_FLAGS, flags[i]);
    }
    /* Two UDP flows to services that go to groups (mDNS, DHCP), one way: their groups are planned too. */
    for (int i = 4; i < 6; i++) {
        int8_t *row = rows + (size_t)i * NS_NP_MODEL_WIDTH;
        ns_nprint_put(row, NS_NPF_UDP_SPORT, i == 4 ? 5353 : 68), ns_nprint_put(row, NS_NPF_UDP_DPORT, i == 4 ? 5353 : 67);
        ns_nprint_put(row, NS_NPF_UDP_LEN, 40);
    }
    ns_gen_flows g = {.n_flows = N, .n_rows = N, .len = len, .first = first, .rows = rows, .dir = dir};
    ns_repair_opts ro;
    ns_repair_opts_init(&ro);
    ns_repair_plan plan[N];
    for (uint32_t c = 0; c < tm->n_classes && c < 4; c++) {
        ns_tmodel_capture cap = {0, N, tm->classes[c].key, c % 2 ? 30 * 1000000000LL : 0}; /* a --like copy: a span */
        size_t n;
        ns_tmodel_count(tm, cap.key, 60 * 1000000000LL, 1, 0, 1000, &n);
        if (ns_tmodel_plan(tm, &g, &cap, 1, &ro, 1, plan)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_tmodel tm;
    if (ns_tmodel_parse(&tm, data, size, "fuzz") == 0) use(&tm), ns_tmodel_free(&tm);
    if (size < 32) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    memset(copy + 28, 0, 4);
    uint32_t crc = ns_crc32(0, copy, size);
    memcpy(copy + 28, &crc, 4);
    if (ns_tmodel_parse(&tm, copy, size, "fuzz") == 0) use(&tm), ns_tmodel_free(&tm);
    free(copy);
    return 0;
}

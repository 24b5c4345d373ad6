/* repair_link.h (private): the link-layer frames repair adds beside a
 * flow's packets (ns_repair_plan.link), repair_link.c. */
#ifndef NETSYNTH_REPAIR_LINK_H
#define NETSYNTH_REPAIR_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "netsynth/repair.h"

enum { LINK_FRAME_MAX = 64, LINK_FRAMES_MAX = 6 };

/* One frame to add: its time and bytes. */
typedef struct link_frame {
    int64_t ts_ns;
    uint32_t len;
    uint8_t b[LINK_FRAME_MAX];
} link_frame;

/* The frames before (and, IGMP's repeat, after) a flow whose first packet is
 * at first_ns, from client `client` (host byte order), as plan->link asks
 * less the rules `no_arp` / `no_igmp` switch off: into f[LINK_FRAMES_MAX],
 * returns how many. `mix` seeds their jitter (the flow's and the writer's
 * seed: deterministic per seed). */
int repair_link_frames(const ns_repair_opts *o, const ns_repair_plan *plan, uint32_t client, int64_t first_ns,
                       uint64_t mix, int no_arp, int no_igmp, link_frame *f);

#endif

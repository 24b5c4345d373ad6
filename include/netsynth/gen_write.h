/* gen_write.h: writing generated flows (generate.h) out: a dataset file,
 * nPrint CSV, pcaps of repaired packets (repair.h), a directory per plan
 * (gen_plan.h), and the staging that makes a set of files all or nothing. */
#ifndef NETSYNTH_GEN_WRITE_H
#define NETSYNTH_GEN_WRITE_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/gen_plan.h"
#include "netsynth/generate.h"
#include "netsynth/modelfile.h"
#include "netsynth/repair.h"

/* Write generated flows as a dataset file (addresses blank, ports as
 * generated, files[0] = `source`, a note of where they came from). */
int ns_gen_write_dataset(const ns_gen_flows *g, const ns_modelfile *m, const char *source, const char *path);
/* Generated flow i's totals (dataset.h) as its rows say, before repair:
 * packets and IPv4 total lengths (20..65535) per direction, TCP flags
 * (proto 6 only), RST, FIN or else the end of the capture. A dataset of
 * flows longer than a version 1 file holds carries them. */
void ns_gen_flow_totals(const ns_gen_flows *g, size_t i, uint8_t proto, ns_ds_totals *t);
/* Write generated flows as nPrint CSV (IPv4, TCP, UDP, ICMP), index column
 * "flow" = the flow's number, with rts = microseconds since the previous row. */
int ns_gen_write_csv(const ns_gen_flows *g, const char *path);

/* Write generated flows first..first+count-1 as a pcap of packets repaired
 * by repair.h (flow first+i is the file's flow i: its addresses, ports and
 * start time), all flows merged by time; with per_flow, one file per flow
 * instead, named by ns_gen_flow_path. *written gets the packets written; st
 * (NULL or zeroed by the caller) adds up what repair changed. */
int ns_gen_write_pcap(const ns_gen_flows *g, size_t first, size_t count, const ns_repair_opts *ro, int per_flow,
                      const char *path, uint64_t *written, ns_repair_stats *st);
/* The same as a pcap (NS_GEN_PCAP, as ns_gen_write_pcap) or pcapng
 * (NS_GEN_PCAPNG); path "-" is stdout (not with per_flow: NS_EARG). */
enum { NS_GEN_PCAP = 0, NS_GEN_PCAPNG = 1 };
int ns_gen_write_capture(const ns_gen_flows *g, size_t first, size_t count, const ns_repair_opts *ro, int per_flow,
                         int format, const char *path, uint64_t *written, ns_repair_stats *st);
/* "dir/x.pcap" and flow i -> "dir/x-i.pcap" (no extension: "-i" appended). */
void ns_gen_flow_path(char *buf, size_t size, const char *path, size_t i);

/* A set of files written together (generate --per-class/--like DIR, and
 * --per-flow): each goes into a staging directory beside its destination and
 * the set is moved into place only when every file was written, so a full
 * disk or any error half-way leaves nothing of the set behind (and no file of
 * the destination changed). The staging directory is STEM.tmp.XXXXXX, STEM
 * being `stem` (or `dest`) without trailing slashes, in STEM's directory.
 *   whole: dest is the set's own directory. When it does not exist or is
 *          empty, the staging directory is renamed to it (one step). When it
 *          holds files, the set's files are moved in one by one (renames,
 *          which need no disk space), replacing files of the same names and
 *          leaving the others alone.
 *   else:  dest is an existing directory shared with other files (stem names
 *          the staging directory); the set's files are moved in one by one. */
typedef struct ns_gen_stage {
    char *dest;   /* the destination directory */
    char *tmp;    /* the staging directory */
    int whole;
    int fd;       /* tmp, flock()ed while the set is written */
} ns_gen_stage;

/* NS_OK when dest can take a set (see above), else NS_EIO: what
 * ns_gen_stage_open checks first, for a caller that checks before the work
 * that makes the set. */
int ns_gen_stage_check(const char *dest, int whole);
/* Make the staging directory, first removing this stem's staging
 * directories that no live run holds (a killed run's: each run holds an
 * flock on its own). NS_EIO when dest exists and is not a directory, or the
 * staging directory cannot be made. */
int ns_gen_stage_open(ns_gen_stage *s, const char *dest, const char *stem, int whole);
/* The staged path of the file `name` (a name without '/') in buf. */
void ns_gen_stage_path(const ns_gen_stage *s, const char *name, char *buf, size_t size);
/* Move the set into place (see above) and remove the staging directory. */
int ns_gen_stage_commit(ns_gen_stage *s);
/* Remove the staging directory and every file in it; dest is untouched. */
void ns_gen_stage_abort(ns_gen_stage *s);

/* A plan's flows (ns_generate_plan put request k's after request k-1's in
 * g) as the directory dir: NAME.pcap per request (NAME-i.pcap per capture
 * when it has several, n_caps; with per_flow, NAME-i.pcap per flow), labels.tsv (the column "path", then one per
 * attribute: each file's labels) and synthetic.ds (every flow,
 * ns_gen_write_dataset with `source`), all or nothing (ns_gen_stage, whole).
 * written (NULL or [p->n]) gets each request's packets; st (NULL or zeroed
 * by the caller) adds up what repair changed. */
int ns_gen_write_dir(const ns_gen_flows *g, const ns_modelfile *m, const ns_gen_plan *p, const char *source,
                     const ns_repair_opts *ro, int per_flow, const char *dir, uint64_t *written, ns_repair_stats *st);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif

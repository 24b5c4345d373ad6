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

#include "netsynth/capture.h"
#include "netsynth/fileio.h"
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
/* A capture written while its flows are generated (ns_generate_stream's
 * sink ns_gen_capture_round), so that memory stays bounded by the model's
 * window, not by the flows' length: each round's rows are repaired at once
 * (ns_repair_flow_part, each flow's state carried to its next window), and
 * the packets earlier than the latest packet of every flow still going are
 * written, in the order ns_repair_merge gives. The file is the one
 * ns_gen_write_capture writes for the same flows (not per flow) when no
 * flow is longer than the window; past it, repair decides a flow's
 * transport, server port and handshake from its first window. Packets
 * waiting to be written are at most those of the rounds since the flow
 * that lags furthest behind in time began its window: a window per flow
 * while flows keep pace (one long flow: a window). */
typedef struct ns_gen_capture {
    ns_repair_stats *st;   /* NULL, or adds up what repair changed */
    uint64_t flow0;        /* flow i of the call is repair's flow flow0 + i (its addresses, ports) */
    /* NULL, or called once with round 0's windows (every flow's first
     * min(length, window) rows) before anything is repaired: it may set
     * ro->plan (tmodel.h plans from these rows), which must live until
     * ns_gen_capture_close. */
    int (*plan)(void *ctx, const ns_gen_flows *first, ns_repair_opts *ro);
    void *plan_ctx;
    uint64_t written;      /* packets written so far */
    uint64_t rows;         /* rows generated (the flows' lengths, summed) */
    size_t pending_max;    /* the most packets held at once, waiting for their time */
    /* repair's, private: */
    ns_repair_opts ro_;
    int format_;
    ns_outfile out_;
    ns_pcap_writer w_;
    ns_repair_cont *cont_;
    ns_repair_out pend_, keep_;
    int64_t last_ts_;
    int open_;
} ns_gen_capture;

/* Open path ("-": stdout) as a pcap or pcapng (NS_GEN_PCAP/PCAPNG) with
 * repair options ro; st, flow0, plan as set in *c before (zero them for
 * none). */
int ns_gen_capture_open(ns_gen_capture *c, const ns_repair_opts *ro, int format, const char *path);
/* The sink: repair round r's rows and write what is due. */
int ns_gen_capture_round(void *c, const ns_gen_round *r);
/* ok: write what is left and put the file in place; else (or on an error
 * doing so) remove it. Frees c's memory either way. */
int ns_gen_capture_close(ns_gen_capture *c, int ok);

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

/* netsynth.h: the whole library in one include, and its version.
 *
 * Each module's header (one per module, each the module's whole interface)
 * may also be included alone; this one includes them all, in the order the
 * data flows: captures and packets, nPrint rows and flows, datasets, the
 * engine, the model and its training, generation and repair, evaluation.
 * Every header is C and C++ (extern "C"); the shared library exports exactly
 * the functions these headers declare, nothing of src/'s private headers.
 *
 * NS_VERSION is the version of the headers; ns_version() that of the library
 * linked, so a program can tell when the two differ. Both are the Makefile's
 * VERSION (the build fails when they are not). */
#ifndef NETSYNTH_NETSYNTH_H
#define NETSYNTH_NETSYNTH_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define NS_VERSION_MAJOR 0
#define NS_VERSION_MINOR 1
#define NS_VERSION_PATCH 0
#define NS_VERSION_STR_(x) #x
#define NS_VERSION_STR(x) NS_VERSION_STR_(x)
/* "MAJOR.MINOR.PATCH", made from the three numbers so it cannot disagree. */
#define NS_VERSION \
    NS_VERSION_STR(NS_VERSION_MAJOR) "." NS_VERSION_STR(NS_VERSION_MINOR) "." NS_VERSION_STR(NS_VERSION_PATCH)

/* The library's version, NS_VERSION when it was built. */
const char *ns_version(void);

#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/rng.h"
#include "netsynth/bytes.h"
#include "netsynth/capture.h"
#include "netsynth/packet.h"
#include "netsynth/nprint.h"
#include "netsynth/flow.h"
#include "netsynth/labels.h"
#include "netsynth/dataset.h"
#include "netsynth/image.h"
#include "netsynth/blas.h"
#include "netsynth/nn.h"
#include "netsynth/model.h"
#include "netsynth/repr.h"
#include "netsynth/diffusion.h"
#include "netsynth/modelfile.h"
#include "netsynth/lora.h"
#include "netsynth/control.h"
#include "netsynth/controlnet.h"
#include "netsynth/train.h"
#include "netsynth/gen_fix.h"
#include "netsynth/generate.h"
#include "netsynth/gen_plan.h"
#include "netsynth/gen_write.h"
#include "netsynth/repair.h"
#include "netsynth/tmodel.h"
#include "netsynth/features.h"
#include "netsynth/forest.h"
#include "netsynth/distance.h"
#include "netsynth/eval.h"
#include "netsynth/trace.h"
#include "netsynth/report.h"

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif

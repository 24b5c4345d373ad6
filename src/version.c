/* version.c: the library's version, NS_VERSION (netsynth.h) when it was built.
 *
 * The Makefile's VERSION is the one source: it names the shared library's
 * file and netsynth.pc, and it is passed here in three numbers, so a release
 * that changes it without changing netsynth.h does not build. */
#include "netsynth/netsynth.h"

#if defined(NS_MAKE_VERSION_MAJOR) && defined(NS_MAKE_VERSION_MINOR) && defined(NS_MAKE_VERSION_PATCH)
#if NS_MAKE_VERSION_MAJOR != NS_VERSION_MAJOR || NS_MAKE_VERSION_MINOR != NS_VERSION_MINOR || \
    NS_MAKE_VERSION_PATCH != NS_VERSION_PATCH
#error "the Makefile's VERSION and NS_VERSION_* in include/netsynth/netsynth.h differ"
#endif
#endif

const char *ns_version(void)
{
    return NS_VERSION;
}

/* cmd_decode.c: placeholder until the decode verb lands (being written now). */
#include "cli.h"
#include "netsynth/error.h"

int cmd_decode(int argc, char **argv)
{
    (void)argc; (void)argv;
    return ns_error(NS_EARG, "'decode' is not built yet");
}

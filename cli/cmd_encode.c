/* cmd_encode.c: placeholder until the encode verb lands (being written now). */
#include "cli.h"
#include "netsynth/error.h"

int cmd_encode(int argc, char **argv)
{
    (void)argc; (void)argv;
    return ns_error(NS_EARG, "'encode' is not built yet");
}

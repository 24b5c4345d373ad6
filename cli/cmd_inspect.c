/* cmd_inspect.c: placeholder until the inspect verb lands (being written now). */
#include "cli.h"
#include "netsynth/error.h"

int cmd_inspect(int argc, char **argv)
{
    (void)argc; (void)argv;
    return ns_error(NS_EARG, "'inspect' is not built yet");
}

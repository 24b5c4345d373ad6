/* cmd_unrender.c: placeholder until the unrender verb lands (being written now). */
#include "cli.h"
#include "netsynth/error.h"

int cmd_unrender(int argc, char **argv)
{
    (void)argc; (void)argv;
    return ns_error(NS_EARG, "'unrender' is not built yet");
}

/* cmd_render.c: placeholder until the render verb lands (being written now). */
#include "cli.h"
#include "netsynth/error.h"

int cmd_render(int argc, char **argv)
{
    (void)argc; (void)argv;
    return ns_error(NS_EARG, "'render' is not built yet");
}

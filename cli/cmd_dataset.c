/* cmd_dataset.c: placeholder until the dataset verb lands (being written now). */
#include "cli.h"
#include "netsynth/error.h"

int cmd_dataset(int argc, char **argv)
{
    (void)argc; (void)argv;
    return ns_error(NS_EARG, "'dataset' is not built yet");
}

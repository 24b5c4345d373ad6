/* prov.c: the provenance lines only the CLI knows (the dataset's name, the command line). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsynth/error.h"
#include "netsynth/modelfile.h"

char *cli_command_line(int argc, char **argv)
{
    size_t len = 16;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 3;
    char *s = malloc(len);
    if (!s) return NULL;
    size_t at = (size_t)snprintf(s, len, "netsynth");
    for (int i = 0; i < argc; i++)
        at += (size_t)snprintf(s + at, len - at, strpbrk(argv[i], " \t'\"") ? " '%s'" : " %s", argv[i]);
    return s;
}

int cli_provenance(char **text, const char *data_path, int argc, char **argv)
{
    *text = NULL;
    char *cmd = cli_command_line(argc, argv);
    if (!cmd) return ns_error(NS_ENOMEM, "out of memory");
    /* A name or an argument that is not UTF-8 is recorded as what it can be
     * of it: provenance never stops a run. */
    int rc = ns_prov_add(text, "dataset", "%s", data_path);
    if (rc == NS_EARG) rc = ns_prov_add(text, "dataset", "(a file name that is not UTF-8)");
    if (!rc) rc = ns_prov_add(text, "command", "%s", cmd);
    if (rc == NS_EARG) rc = ns_prov_add(text, "command", "(a command line that is not UTF-8)");
    free(cmd);
    if (rc) free(*text), *text = NULL;
    return rc;
}

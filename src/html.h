/* html.h: what the report's HTML writers share (private to the library;
 * hidden from libnetsynth.so like every symbol outside include/). */
#ifndef NETSYNTH_HTML_H
#define NETSYNTH_HTML_H

#include <stdio.h>

/* s with <, >, & and " escaped, for element text and attribute values. */
void ns_html_text(FILE *fp, const char *s);

#endif

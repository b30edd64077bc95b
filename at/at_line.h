/* The AT command line as V.250 frames it: serial bytes become command lines.
 * Bytes before "AT" (either case) are ignored, backspace deletes the last
 * character, CR ends the line, LF and other control or non-ASCII bytes are
 * dropped; inside a quoted string such a byte marks the line bad instead
 * (the command refuses it rather than take a silently shortened value). A line longer than AT_LINE_MAX is thrown away up to its CR and
 * reported once, so a flood never grows memory or runs a half command. */
#ifndef AT_LINE_H
#define AT_LINE_H

#include <stddef.h>
#include <stdint.h>

#define AT_LINE_MAX 512   /* characters after "AT" */

enum at_line_event { AT_LINE_NONE, AT_LINE_READY, AT_LINE_TOO_LONG };

typedef struct at_line {
    char buf[AT_LINE_MAX + 1];   /* the line after "AT", NUL-terminated when READY */
    size_t len;
    int state;                   /* enum in at_line.c */
    int quoted;                  /* inside "..." at the end of buf */
    int bad_byte;                /* a control or 8-bit byte came inside quotes */
} at_line;

void at_line_init(at_line *l);
/* Feeds one byte; AT_LINE_READY: l->buf holds a complete line (valid until
 * the next call). AT_LINE_TOO_LONG at the CR of an overlong line. */
int at_line_feed(at_line *l, uint8_t ch);

#endif

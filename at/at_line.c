#include "at_line.h"

enum { IDLE, SAW_A, IN_LINE, OVERFLOW };

#define BACKSPACE 0x08
#define CR 0x0d

void at_line_init(at_line *l)
{
    l->len = 0;
    l->state = IDLE;
    l->quoted = 0;
    l->bad_byte = 0;
    l->buf[0] = '\0';
}

int at_line_feed(at_line *l, uint8_t ch)
{
    switch (l->state) {
    case IDLE:
        if (ch == 'A' || ch == 'a')
            l->state = SAW_A;
        return AT_LINE_NONE;
    case SAW_A:
        if (ch == 'T' || ch == 't') {
            l->state = IN_LINE;
            l->len = 0;
            l->quoted = 0;
            l->bad_byte = 0;
        } else if (ch != 'A' && ch != 'a') {
            /* "AA" keeps the second A as a possible start */
            l->state = IDLE;
        }
        return AT_LINE_NONE;
    case IN_LINE:
        if (ch == CR) {
            l->buf[l->len] = '\0';
            l->state = IDLE;
            return AT_LINE_READY;
        }
        if (ch == BACKSPACE || ch == 0x7f) {
            if (l->len == 0)
                l->state = SAW_A;   /* the T is gone, the A stays */
            else if (l->buf[--l->len] == '"')
                l->quoted = !l->quoted;
            return AT_LINE_NONE;
        }
        if (ch < 0x20 || ch > 0x7e) {
            if (l->quoted)
                l->bad_byte = 1;
            return AT_LINE_NONE;
        }
        if (l->len == AT_LINE_MAX) {
            l->state = OVERFLOW;
            return AT_LINE_NONE;
        }
        if (ch == '"')
            l->quoted = !l->quoted;
        l->buf[l->len++] = (char)ch;
        return AT_LINE_NONE;
    default: /* OVERFLOW: discard to the end of the line */
        if (ch != CR)
            return AT_LINE_NONE;
        at_line_init(l);
        return AT_LINE_TOO_LONG;
    }
}

/* What the image's files share. */
#ifndef DEVICE_MPS2_H
#define DEVICE_MPS2_H

#include <stddef.h>

size_t device_heap_top(void);   /* the heap's high-water mark, bytes */

#endif

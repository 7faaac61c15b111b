/*
 * The broker's growable arrays: a pointer, a count and a capacity, the
 * capacity doubling as the count reaches it.
 */
#ifndef TUNBROKER_ARRAY_H
#define TUNBROKER_ARRAY_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Makes room for need elements of size bytes in the array *itemsp (any
 * object pointer, passed by address) of capacity *cap: the capacity
 * doubles, from first when it is 0, until need fits.  Returns 0, or
 * -ENOMEM with the array and *cap as they were.
 */
static inline int
array_reserve(void *itemsp, size_t *cap, size_t need, size_t size,
    size_t first)
{
	size_t n = *cap == 0 ? first : *cap;
	void *items, *grown;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return -ENOMEM;
	memcpy(&items, itemsp, sizeof(items));
	if ((grown = realloc(items, n * size)) == NULL)
		return -ENOMEM;
	memcpy(itemsp, &grown, sizeof(grown));
	*cap = n;
	return 0;
}

#endif /* TUNBROKER_ARRAY_H */

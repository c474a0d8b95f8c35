/* Zero-filled memory shared by the listener and every child it forks: made
 * once before the first fork, inherited by each child at the same address. */
#ifndef CTFTPD_SHMEM_H
#define CTFTPD_SHMEM_H

#include <stddef.h>

/* Map size bytes of zeroed memory shared across fork(): an anonymous
 * MAP_SHARED mapping, or where the platform has no MAP_ANONYMOUS, a POSIX
 * shared memory object that is unlinked at once.  Returns the mapping, or
 * NULL (errno). */
void *shmem_map(size_t size);

/* Unmap what shmem_map returned (NULL is ignored). */
void shmem_unmap(void *p, size_t size);

#endif

/* Zero-filled memory and what a fork does with it: shared by the listener and
 * every child it forks (made once before the first fork, inherited by each
 * child at the same address), or the listener's alone (not inherited). */
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

/* Zero-filled memory of size bytes that only this process uses and its
 * children do not inherit (MADV_DONTFORK, Linux): fork() neither walks nor
 * copies its page tables, and a write to it after a fork takes no
 * copy-on-write fault.  A child must not touch it (it is not mapped there).
 * Where the platform lacks MAP_ANONYMOUS or MADV_DONTFORK: calloc memory,
 * inherited as any other.  Lives as long as the process.  Returns NULL
 * (errno). */
void *shmem_parent_only(size_t size);

#endif

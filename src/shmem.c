/* Shared anonymous memory with a portable fallback (MAP_ANONYMOUS is not in
 * POSIX before 2024, shm_open is), and memory a fork does not pass on. */
#include "autoconfig.h"

#include "shmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void *shmem_map(size_t size)
{
	void *p;
#if HAVE_DECL_MAP_ANONYMOUS && !defined(SHMEM_USE_SHM_OPEN)
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
#else
	/* A shared memory object unlinked at once gives the same zero-filled
	 * shared pages; the name only has to be unique for a moment. */
	static unsigned serial;
	char name[64];
	int fd = -1;

	for (int tries = 0; tries < 16 && fd < 0; tries++) {
		snprintf(name, sizeof(name), "/ctftpd-%ld-%u", (long)getpid(),
			 serial++);
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0 && errno != EEXIST)
			return NULL;
	}
	if (fd < 0)
		return NULL;
	shm_unlink(name);
	if (ftruncate(fd, (off_t)size) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
#endif
	return p == MAP_FAILED ? NULL : p;
}

void shmem_unmap(void *p, size_t size)
{
	if (p)
		(void)munmap(p, size);
}

void *shmem_parent_only(size_t size)
{
#if HAVE_DECL_MAP_ANONYMOUS && defined(MADV_DONTFORK)
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* Without it the memory is only inherited as calloc's would be. */
	(void)madvise(p, size, MADV_DONTFORK);
	return p;
#else
	return calloc(1, size ? size : 1);
#endif
}

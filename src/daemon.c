/* Detaching from the controlling terminal, the classic way: POSIX calls
 * only, no daemon(3). */
#include "autoconfig.h"

#include "daemon.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int daemon_detach(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	/* A second fork: the session leader exits, so the daemon can never
	 * acquire a controlling terminal again. */
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

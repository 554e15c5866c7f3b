/* lab_interrupt.c: Ctrl-C and SIGTERM recorded for the engines to see. */
#include "lab_interrupt.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	if (caught == 0)
		caught = sig;
}

void lab_interrupt_install(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	static bool installed;
	struct sigaction sa;
	size_t k;

	if (installed)
		return;
	installed = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: waits return early */
	for (k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		sigaction(sigs[k], &sa, NULL);
}

int lab_interrupted(void)
{
	return caught;
}

const char *lab_interrupt_name(void)
{
	switch (caught) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	}
	return "a signal";
}

bool lab_sleep(double seconds)
{
	struct timespec t, rem;

	if (caught != 0)
		return false;
	if (seconds <= 0)
		return true;
	t.tv_sec = (time_t)seconds;
	t.tv_nsec = (long)((seconds - (double)t.tv_sec) * 1e9);
	while (nanosleep(&t, &rem) != 0) {
		if (errno != EINTR || caught != 0)
			return caught == 0;
		t = rem;
	}
	return caught == 0;
}

void lab_interrupt_child(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

/* lab_interrupt.h: Ctrl-C and SIGTERM for the commands that start a lab
 * (lab up, plan run, bench, plan explore --verify-live).
 *
 * The handlers only record the signal; no system call is restarted, so a
 * sleep or a blocking read returns early. The engines look at
 * lab_interrupted() in every wait and every loop, leave through their
 * normal clean-up (which stops every node and the proxy they started and
 * removes the state directory they made), say so, and the command exits
 * 128 + the signal. A second signal during the clean-up changes nothing:
 * the clean-up goes on to its end.
 */
#ifndef EKULAB_CLI_LAB_INTERRUPT_H
#define EKULAB_CLI_LAB_INTERRUPT_H

#include <stdbool.h>

/* Catch SIGINT, SIGTERM and SIGHUP (once per process). */
void lab_interrupt_install(void);
/* A caught signal: its number, or 0. */
int lab_interrupted(void);
/* "SIGINT", "SIGTERM", "SIGHUP" or "a signal". */
const char *lab_interrupt_name(void);
/* Sleep up to `seconds`; false when a signal came first (or had come). */
bool lab_sleep(double seconds);
/* The default dispositions back, in a child that must not inherit ours
 * (fork, then this, then the child's own handling). */
void lab_interrupt_child(void);

#endif

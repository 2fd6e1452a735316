/*
 * netpolicy: which addresses webhooks may connect to. Lists of networks
 * (CIDR, or the names loopback, private, link-local, reserved) are checked
 * against the address a connection is about to use, after DNS, so a
 * hostname that resolves into a denied range is refused however the URL
 * spells it. An address is judged with every address it stands for (an
 * embedded IPv4 address, the loopback an unspecified address reaches).
 */
#ifndef LOOPD_EXEC_NETPOLICY_H
#define LOOPD_EXEC_NETPOLICY_H

#include <sys/socket.h>

/* Whether every entry of a list is a network or a known name; *bad gets
 * the first that is not. */
int netpolicy_valid(char **list, const char **bad);
/* Set the lists (copied; NULL or empty: no list). 0 or -1 (ENOMEM). */
int netpolicy_set(char **allow, char **deny);
/* Whether sa may be connected to: not denied, and allowed when an allow
 * list is set. */
int netpolicy_permits(const struct sockaddr *sa);
/* Free the lists. */
void netpolicy_free(void);

#endif

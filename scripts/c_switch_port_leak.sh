#!/bin/bash
# Debian's vde_switch (2.3.2) keeps for good the port of a vde_plug that has
# left, when another connection of the switch closed between the switch
# accepting the plug's ctl connection and reading its request. Only C tools
# here: vde_switch, vde_plug, unixcmd and OpenBSD nc.
#
# Why: the switch's fd table (vde_switch.c) keeps a permutation from fd to
# poll slot. remove_fd renumbers the slots after the one removed up to the old
# count, so the last fd (the plug's ctl connection, accepted last) is left
# pointing one past the end. The request then adds the port's data fd, which
# moves an entry into that very slot, and the port is recorded there instead
# of on the plug's ctl fd: when the plug closes its ctl connection the switch
# closes that fd alone, and the port, its data socket and its 001.N file stay.
#
# The switch is paused (SIGSTOP) so the order is certain: a management
# session is open, the plug connects and sends its request, the session
# closes; resumed, the switch accepts the plug, removes the session, then
# reads the request. The signals-under-load test met it when port/print was
# read while a plug joined (test/e2e/signals_under_load.test.ts, Lane).
#
# Usage: scripts/c_switch_port_leak.sh          the order above: 1 port left
#        CONTROL=1 scripts/c_switch_port_leak.sh the session closed first: 0
set -u
D=/tmp/c-switch-port-leak.$$
mkdir -p $D
vde_switch -s $D/sw -M $D/mgmt -d -p $D/pid
for _ in $(seq 50); do [ -S $D/mgmt ] && break; sleep 0.1; done
SW=$(cat $D/pid)
ports() { unixcmd -f /etc/vde2/vdecmd -s $D/mgmt port/print | tr -d '\0' | grep -c '^Port'; }
# A management session, held open (nc -d reads nothing from stdin).
nc -d -U $D/mgmt >/dev/null &
M=$!
sleep 0.3
if [ -n "${CONTROL:-}" ]; then
  kill $M
  sleep 0.3
fi
kill -STOP $SW
vde_plug vde://$D/sw null:// &
P=$!
sleep 0.3
[ -z "${CONTROL:-}" ] && kill $M
sleep 0.2
kill -CONT $SW
sleep 0.5
echo "ports while vde_plug runs: $(ports)"
kill $P
wait $P
sleep 0.5
left=$(ports)
echo "ports after vde_plug exited: $left"
unixcmd -f /etc/vde2/vdecmd -s $D/mgmt port/print | tr -d '\0'
kill $SW
sleep 0.3
rm -rf $D

#!/bin/sh
# dhclient's script for the DHCP kernel tests (-sf). It only sets and clears the
# interface's IPv4 address (a RELEASE goes out from it): never resolv.conf, routes or
# anything outside the namespace it runs in. dhclient gives its script a cleaned
# environment, so each event is appended to a file named on the command line's
# -e DHCP_EVENTS=FILE: the reason, then each new_* variable, then "--".
case "$reason" in
    BOUND|RENEW|REBIND|REBOOT)
        ip -4 addr flush dev "$interface"
        ip addr add "$new_ip_address/${new_subnet_mask:-255.255.255.0}" dev "$interface"
        ;;
    RELEASE|EXPIRE|FAIL|STOP)
        ip -4 addr flush dev "$interface"
        ;;
esac
if [ -n "$DHCP_EVENTS" ]; then
    { echo "reason=$reason"; env | grep '^new_' | sort; echo "--"; } >> "$DHCP_EVENTS"
fi
exit 0

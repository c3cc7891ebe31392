#!/bin/sh
# udhcpc's event script for the DHCP kernel tests (-s). It only changes the interface's
# IPv4 address: never resolv.conf, routes or anything outside the namespace it runs in.
# Each event is appended to $DHCP_EVENTS as "EVENT IP" ("deconfig ", "bound 198.18.0.1").
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ;;
    bound)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        ;;
    renew)
        ip addr replace "$ip/${mask:-24}" dev "$interface"
        ;;
esac
if [ -n "$DHCP_EVENTS" ]; then
    echo "$1 ${ip:-}" >> "$DHCP_EVENTS"
fi
exit 0

#!/bin/sh
# dhcpcd's only hook in the DHCP kernel tests (-c): it writes down each event and changes
# nothing (dhcpcd itself sets the address and routes, inside the test's namespace; no
# resolv.conf, no other hook). The file is $DHCP_EVENTS, from the test's dhcpcd.conf
# (`env DHCP_EVENTS=FILE`): the reason, then each new_* variable, then "--".
if [ -n "$DHCP_EVENTS" ]; then
    { echo "reason=$reason"; env | grep '^new_' | sort; echo "--"; } >> "$DHCP_EVENTS"
fi
exit 0

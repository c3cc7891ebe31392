#ifndef TAPIR_CPCAP_H
#define TAPIR_CPCAP_H
#include <pcap/pcap.h>
#endif

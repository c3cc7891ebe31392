#ifndef TAPIR_CPCAP_H
#define TAPIR_CPCAP_H
#include <pcap/pcap.h>
#include <stdint.h>

/* Writes one record and, when `flush` is set, flushes it to the file.
 * pcap_dump() reports nothing, so write errors (a full disk, a closed pipe) are read
 * back from the stdio stream: returns 0, or the errno of the failed write. */
int tapir_pcap_dump(pcap_dumper_t *dumper, int64_t seconds, int32_t microseconds,
                    const uint8_t *bytes, uint32_t length, uint32_t original_length, int flush);

/* Opens a dumper on a copy of `descriptor` (standard output, or the descriptor kept for
 * it by --record -); closing the dumper closes the copy only. (`pcap_dump_fopen` is a
 * macro on some builds.) */
pcap_dumper_t *tapir_pcap_dump_descriptor(pcap_t *pcap, int descriptor);

#endif

#include "CPcap.h"
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int tapir_pcap_dump(pcap_dumper_t *dumper, int64_t seconds, int32_t microseconds,
                    const uint8_t *bytes, uint32_t length, uint32_t original_length, int flush) {
    struct pcap_pkthdr header;
    header.ts.tv_sec = (time_t)seconds;
    header.ts.tv_usec = (suseconds_t)microseconds;
    header.caplen = length;
    header.len = original_length;
    FILE *file = pcap_dump_file(dumper);
    errno = 0;
    pcap_dump((u_char *)dumper, &header, bytes);
    if (flush && pcap_dump_flush(dumper) != 0) {
        return errno != 0 ? errno : EIO;
    }
    if (ferror(file)) {
        int failure = errno != 0 ? errno : EIO;
        clearerr(file);
        return failure;
    }
    return 0;
}

pcap_dumper_t *tapir_pcap_dump_descriptor(pcap_t *pcap, int descriptor) {
    int copy = dup(descriptor);
    if (copy < 0) return NULL;
    FILE *file = fdopen(copy, "w");
    if (file == NULL) {
        close(copy);
        return NULL;
    }
    pcap_dumper_t *dumper = pcap_dump_fopen(pcap, file);
    if (dumper == NULL) fclose(file);
    return dumper;
}

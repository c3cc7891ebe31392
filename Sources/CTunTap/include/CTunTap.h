#ifndef TAPIR_CTUNTAP_H
#define TAPIR_CTUNTAP_H
#endif

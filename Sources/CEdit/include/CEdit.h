#ifndef TAPIR_CEDIT_H
#define TAPIR_CEDIT_H
#include <stdio.h>
#include <histedit.h>
#endif

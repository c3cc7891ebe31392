#include "CTunTap.h"

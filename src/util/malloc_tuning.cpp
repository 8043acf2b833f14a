#include "util/malloc_tuning.h"

#include <malloc.h>

namespace venus {

void keep_freed_heap() {
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
}

}  // namespace venus

// glibc malloc settings for processes in which host drivers record command buffers.
#pragma once

namespace venus {

// Host drivers (lavapipe most of all) record command buffers in malloc'd memory. With glibc's
// defaults, freed heap goes back to the kernel after every command buffer reset and is faulted in
// again on the next recording; this keeps it (a trim threshold of 256 MiB, 16 MiB of top pad).
// Measured: up to 3x on lavapipe recording throughput (docs/PERFORMANCE.md).
void keep_freed_heap();

}  // namespace venus

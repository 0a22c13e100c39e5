// Giving memory that runs freed back to the system. glibc keeps what a thread frees in that
// thread's arena (and serves big blocks from arenas too once one was freed: its mmap threshold
// rises to the largest block freed, up to 32 MiB); an arena shrinks only from its top. With
// many workers, a burst of memory-hungry runs left the daemon at its peak for good: 64 workers
// whose Lua runs held ~22 MB each stayed at 1.9 GB of RSS after the burst had ended.
#pragma once
#include <chrono>
#include <cstddef>

namespace cronhost {

// A run that held `peak_bytes` at most has ended and freed them. Only big ones (1 MiB and
// more) make the next release_freed_memory() worth its cost.
void run_memory_freed(size_t peak_bytes);

// When the workers have drained their queue: after a big run, returns the free pages of every
// arena to the system (malloc_trim), at most once a second. Returns how long until a trim it
// had to put off is due (zero: none is waiting), so the caller can come back then even when
// no run follows. Hosts of small runs never pay it: at 10,000 trivial runs a second glibc's
// own behaviour is left alone (fixing its thresholds with mallopt instead tripled the
// lateness of that load).
std::chrono::milliseconds release_freed_memory();

}  // namespace cronhost

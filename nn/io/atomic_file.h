// Atomic replacement of a file, shared by every writer of checkpoints and results: the bytes go
// to "<target>.tmp.<pid>", are flushed and fsynced, then renamed over the target, so a reader
// sees the old file or the new one, never a torn one. Temp files left by writers that were
// killed mid-write (their pid no longer names a live process) are removed on the next write.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace shears::nn {

// Appends n bytes to the file being written (throws on a write error).
using ByteSink = std::function<void(const void* data, size_t n)>;

// "<target>.tmp.<pid of this process>".
std::string temp_path_for(const std::string& target);

// Removes the files "<target>.tmp.<pid>" in target's folder whose <pid> (digits only) is not a
// live process (kill(pid, 0) fails with ESRCH); temp files of live writers, of this process and
// anything not of that form are kept. Returns the paths removed. Never throws for a file that
// vanished meanwhile (another writer cleaning up). Limitation: pids are those of this machine's
// pid namespace, so writers on other hosts sharing the folder must not use the same target.
std::vector<std::string> remove_dead_writer_temp_files(const std::string& target);

// Removes dead writers' temp files, then writes `write`'s bytes to temp_path_for(target),
// fsyncs, renames over target and fsyncs the folder. On any failure (including an exception
// from `write`) the temp file is removed and target is untouched. Errors are
// "[op] <target>: <problem>".
void write_file_atomic(const std::string& target, const char* op,
                       const std::function<void(const ByteSink& put)>& write);

}  // namespace shears::nn

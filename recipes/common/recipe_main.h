// The one way a recipe reads its flags and ends its main(): runs the recipe's body and turns an exception into
// "error: <what>" on stderr (flag errors also say "see --help") and exit status 2, so every
// recipe reports bad input the same way instead of crashing; and the flag checks recipes share
// (thread count cap, non-negative rates, size ranges, a writable --out checked at start).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <cxxopts.hpp>

namespace shears::recipes {

int recipe_main(const std::function<int()>& body);

// Prints "compute: N threads (oneTBB); GEMM <provider> (kernels: <ISA>)..." and, when the GEMM runs
// kernels unsuited to this CPU, the warning naming the remedy. Every recipe calls it once its thread
// count is set, so each run's output says what it ran on.
void print_compute_config();

// A comma-separated flag value as its items, spaces around items trimmed, empty items dropped.
std::vector<std::string> split_list(const std::string& text);
// One list item read as a whole number (std::stod consuming every character); NaN when it is not one
// (empty, trailing characters, out of range), so a caller's range check refuses it.
double parse_list_number(const std::string& item);

// ---- shared flag validators: each throws shears::Error "[prog] --flag ..." ----

// The cap on --threads (docs/DESIGN.md, Hostile input). Fixed rather than tied to this machine's
// cores, because a thread count is part of what makes a run reproducible (same seed + threads =
// same run) on another machine; 256 is above any host shears targets.
inline constexpr int64_t kMaxThreads = 256;

// --threads: 0 (automatic: SHEARS_NUM_THREADS or all cores) or 1..kMaxThreads.
void check_threads_flag(int64_t threads, const std::string& prog);

// A flag that must be finite and >= 0 (--min-lr, --weight-decay, ...).
void check_non_negative_flag(double value, const char* flag, const std::string& prog);

// A model-size flag that must lie in [1, cap] (checked before anything divides by it).
void check_size_flag(int64_t value, const char* flag, int64_t cap, const std::string& prog);

// Creates the output folder `dir` (with parents) and writes and removes a probe file in it, so an
// unwritable --out fails at start instead of after an epoch of training. `flag` names it.
void prepare_output_dir(const std::string& dir, const std::string& prog, const char* flag = "--out");

// The same for an output FILE: its folder must exist or be creatable, and be writable.
void prepare_output_file(const std::string& path, const std::string& prog, const char* flag = "--out");

// Parses a recipe's flags. With --help: prints the help and returns nothing (the recipe exits 0).
// A stray positional argument fails with an error naming `prog`.
std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, int argc, char** argv,
                                                const std::string& prog);

}  // namespace shears::recipes

// Placeholder translation unit so the pruning library exists before its first transform.
namespace shears::pruning {}

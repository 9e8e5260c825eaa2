// Pareto fronts of a trade-off: the points that no other point beats on both axes at once (cost
// lower or equal AND value higher or equal, one of them strictly). The composition study draws its
// accuracy-vs-GFLOPs and accuracy-vs-images/s fronts with it (for "higher is better" on the x axis,
// pass the negated quantity as the cost).
#pragma once
#include <cstddef>
#include <vector>

namespace shears::recipes {

// Indices of the non-dominated points, sorted by ascending cost (equal costs: higher value first,
// then lower index). j dominates i when cost[j] <= cost[i] and value[j] >= value[i] with at least one
// strict; identical points do not dominate each other (both stay). Points with a NaN coordinate are
// never on the front and dominate nothing. cost and value must have the same length.
std::vector<size_t> pareto_front(const std::vector<double>& cost, const std::vector<double>& value);

}  // namespace shears::recipes

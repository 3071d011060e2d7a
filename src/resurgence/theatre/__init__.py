"""Stage 1, theatre: regions, adjacency, populations and bases of a theatre (the Iraq data and its loader)."""

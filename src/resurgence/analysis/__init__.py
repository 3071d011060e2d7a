"""Stage 7, analysis: paired contrasts, the claims registry, sensitivity, the 2011 case and the brief's content."""

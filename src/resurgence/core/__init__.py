"""Stage 0, core: user errors, random streams, count samplers, the weekly time grid, atomic writes. Imports no other stage."""

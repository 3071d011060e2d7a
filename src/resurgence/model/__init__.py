"""Stage 3, model: the mechanism contract, parameters, the weekly plan and the simulation. Imports no storage, analysis or report."""

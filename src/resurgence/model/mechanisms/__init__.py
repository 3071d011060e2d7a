"""The seven mechanism modules, each owning its parameters, states and metrics."""

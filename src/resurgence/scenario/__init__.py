"""Stage 2, scenario: the TOML schema, loading and overlays, and the compiled drivers (every lever once)."""

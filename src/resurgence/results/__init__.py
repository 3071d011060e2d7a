"""Stage 4, results: the results bundle (Parquet + DuckDB, manifest) and the per-run outcome reducers."""

"""Stage 5, run: ensembles of runs, chunked and executed serially, in processes or on Ray."""

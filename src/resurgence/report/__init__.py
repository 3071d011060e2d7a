"""Stage 8, report: figures, HTML and PDF renderings. Imports no face."""

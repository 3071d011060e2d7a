"""Stage 6, calibration: observations and importers, the observation model, cases, inference, posteriors, predictive checks, forecasts and backtests."""

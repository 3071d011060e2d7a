"""resurgence: how a foreign-troop drawdown changes an insurgency and a rival power's influence.

A spatial, stochastic simulation of Iraq's security system (IS remnants, Iraqi forces, US
enablers, Iran-backed militias) over the 18 governorates, run as Monte Carlo ensembles with
common random numbers.
"""

from __future__ import annotations

__version__ = "0.1.0"

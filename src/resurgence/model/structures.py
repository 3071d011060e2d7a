"""Alternative model structures as parameter overlays (issue #9, item 4).

``posture-matters`` is the default structure. ``posture-neutral`` switches off every channel
by which the US posture (troops, bases, enablers, mediation) reaches IS, militias, host forces
or Iran: enabler coverage frozen at its reference (``posture_response = 0``), no
troop-headcount effects on militias, influence or grievance, no host adaptation to lost
training. Everything else — the insurgency's own dynamics, host presence, grievance from
reconstruction, the observation model — is shared, so the two differ only in whether posture
matters. ``docs/model.md`` §12 compares them on the 2018-2020 history.
"""

from __future__ import annotations

from collections.abc import Mapping

from resurgence.core.errors import ArgumentError

POSTURE_NEUTRAL: Mapping[str, float] = {
    "posture_response": 0.0,   # coalition: coverage frozen at the reference posture
    "militia_vacuum": 0.0,     # militia: ceiling independent of the troop ratio
    "influence_vacuum": 0.0,   # politics: influence independent of the troop ratio
    "presence_grievance": 0.0,  # grievance: no grievance from foreign presence
    "host_adaptation": 0.0,    # host: no learning once training is withdrawn
}

#: The overlay of each named structure on the default parameters.
STRUCTURES: dict[str, Mapping[str, float]] = {
    "posture-matters": {},
    "posture-neutral": POSTURE_NEUTRAL,
}


def structure_overrides(name: str) -> dict[str, float]:
    """The parameter overlay of structure ``name`` (``posture-matters``: none)."""
    if name not in STRUCTURES:
        raise ArgumentError(f"field 'structure' = {name!r}: expected one of {', '.join(STRUCTURES)}")
    return dict(STRUCTURES[name])

"""The VTN-side fleet planner (docs/fleet-planner.md).

Importing this package needs no solver; :func:`vtn_lite.fleet.solve.plan_fleet` imports scipy
when called and raises :class:`~vtn_lite.fleet.model.PlannerUnavailable` without it.
"""

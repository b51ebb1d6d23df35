"""The fleet planner's plumbing around the solver (:mod:`vtn_lite.fleet`): configuration,
planning inputs from the gateways' reports, the periodic job and the published schedules
(docs/fleet-planner.md, "Inputs and schedules")."""

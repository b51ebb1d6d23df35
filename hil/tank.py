"""Two-node stratified tank of a heat-pump water heater (docs/hpwh.md §6.2).

Upper and lower nodes hold fractions f and 1 − f of the water. Draws take hot water from the top
and let cold mains water in at the bottom; the compressor (a wrapped condenser) heats the lower
node with capacity and input power from the product's performance map, bilinear in air and
lower-node temperature; the top resistance element heats the upper node; the bottom element backs
the compressor up when it cannot run. Standby losses are UA·(T − T_air) split by volume.

Control follows the product's model file (HPWHsim turn-on/shut-off logic) with the set point and
the heat-pump deadband taken from the controls each step, the way CTA-2045 products are driven
(docs/hpwh.md §7): a set-point change tops the tank off with a zero deadband for a few minutes, the
deadband widens or narrows the compressor trigger, and element lockout is absolute.

Units: °C, W, J inside; Wh in the reported totals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from hil.draws import DrawProfile
from hil.hpwh_model import WATER_RHO_CP_J_PER_L_K, HpwhModel

J_PER_WH = 3600.0
# "Minimum useful" delivery temperature, 110 °F (docs/hpwh.md §5.2; HPWHsim's SoC definition).
MIN_USEFUL_C = 43.3
# Hottest storage a product reaches: Advanced Load Up capped at 145 °F (docs/hpwh.md §6.2); the
# storage capacity is counted from the mains temperature up to it.
MAX_STORAGE_C = 62.8
# Set-point limits enforced by the thermostat, 90–160 °F (GridLAB-D waterheater, docs/hpwh.md §5.2).
MIN_SETPOINT_C = 32.2
MAX_SETPOINT_C = 71.1
MAX_DEADBAND_C = 30.0
# Rheem logic runs the compressor with a 0 °C deadband for 300 s after a set-point change
# (Flexi-HPWH Rheem configuration, docs/hpwh.md §5.2 and §7 "Load Up"). Only a raise tops off: a
# lowered (shed) set point must not start the compressor.
SETPOINT_CHANGE_TOP_OFF_S = 300.0
# Keep the condenser a little below HPWHsim's maximum refrigerant temperature.
CONDENSER_MARGIN_C = 2.0
# Physics step: ≤ 60 s resolves the DOE draws (docs/hpwh.md §6).
DEFAULT_MAX_STEP_S = 60.0
# A draw larger than this fraction of a node is mixed in several slices (docs/hpwh.md §6.2).
MAX_DRAW_FRACTION = 0.1
UPPER_FRACTION = 0.5  # docs/hpwh.md §6.2 uses f = 0.5


class Controls(Protocol):
    """What the thermostat obeys; ``hil.thermal.ThermalControls`` has this shape."""

    @property
    def setpoint_c(self) -> float: ...
    @property
    def deadband_c(self) -> float: ...
    @property
    def element_allowed(self) -> bool: ...
    @property
    def heat_pump_allowed(self) -> bool: ...


@dataclass(frozen=True)
class Conditions:
    """Surroundings; the defaults are the DOE 24-h test's 67.5 °F air and 58 °F mains."""

    ambient_c: float = 19.7
    inlet_c: float = 14.4


@dataclass(frozen=True)
class TankTotals:
    """Energy accounts since the tank was built, in Wh (and litres drawn)."""

    electric_wh: float
    hp_electric_wh: float
    element_electric_wh: float
    hp_heat_wh: float
    element_heat_wh: float
    delivered_wh: float
    loss_wh: float
    drawn_l: float
    hp_runtime_s: float
    element_runtime_s: float


@dataclass(frozen=True)
class TankReading:
    """The tank at one instant."""

    elapsed_s: float
    upper_c: float
    lower_c: float
    mean_c: float
    stored_wh: float  # sensible heat above the mains temperature
    capacity_wh: float  # whole tank from the mains temperature to MAX_STORAGE_C
    usable_wh: float  # heat above MIN_USEFUL_C, what can be delivered hot enough
    power_w: float  # mean electric power over the last physics step
    hp_on: bool
    top_element_on: bool
    bottom_element_on: bool
    min_delivered_c: float | None  # coldest water delivered so far (None before any draw)
    totals: TankTotals

    @property
    def heating(self) -> bool:
        return self.hp_on or self.top_element_on or self.bottom_element_on


class TwoNodeTank:
    """Time-stepped two-node tank; ``advance`` moves it forward under the given controls."""

    def __init__(
        self,
        model: HpwhModel,
        draws: DrawProfile,
        *,
        conditions: Conditions | None = None,
        initial_temp_c: float | None = None,
        start_s: float = 0.0,
        upper_fraction: float = UPPER_FRACTION,
        max_step_s: float = DEFAULT_MAX_STEP_S,
    ) -> None:
        if not 0.05 <= upper_fraction <= 0.95:
            raise ValueError(f"upper_fraction must be in [0.05, 0.95], got {upper_fraction!r}")
        if not max_step_s > 0:
            raise ValueError(f"max_step_s must be > 0, got {max_step_s!r}")
        self.model = model
        self.draws = draws
        self.conditions = conditions or Conditions()
        self.max_step_s = max_step_s
        self._f = upper_fraction
        self._v_upper = model.volume_l * upper_fraction
        self._v_lower = model.volume_l - self._v_upper
        self._c_upper = self._v_upper * WATER_RHO_CP_J_PER_L_K
        self._c_lower = self._v_lower * WATER_RHO_CP_J_PER_L_K
        start_c = model.standard_setpoint_c if initial_temp_c is None else initial_temp_c
        _require_finite("initial_temp_c", start_c)
        self.t_upper = self.t_lower = float(start_c)
        self.elapsed_s = float(start_s)
        self._setpoint_c: float | None = None
        self._top_off_until_s = -math.inf
        self.hp_on = self.top_on = self.bottom_on = False
        self._hp_locked_out = False
        self._last_power_w = 0.0
        self._min_delivered_c: float | None = None
        # Accounts, J and s.
        self._hp_elec = self._el_elec = self._hp_heat = self._el_heat = 0.0
        self._delivered = self._loss = self._drawn_l = 0.0
        self._hp_runtime = self._el_runtime = 0.0

    # -- public -----------------------------------------------------------------------------

    def advance(self, dt_s: float, controls: Controls) -> TankReading:
        """Move ``dt_s`` seconds forward under ``controls``; returns the reading at the end."""
        _require_finite("dt_s", dt_s)
        if dt_s < 0:
            raise ValueError(f"dt_s must be ≥ 0, got {dt_s!r}")
        setpoint, deadband = _checked_controls(controls)
        if self._setpoint_c is not None and setpoint > self._setpoint_c:
            self._top_off_until_s = self.elapsed_s + SETPOINT_CHANGE_TOP_OFF_S
        self._setpoint_c = setpoint
        remaining = dt_s
        while remaining > 1e-9:
            step = min(self.max_step_s, remaining)
            self._step(
                step, setpoint, deadband, controls.element_allowed, controls.heat_pump_allowed
            )
            remaining -= step
        return self.reading()

    def reading(self) -> TankReading:
        t_in = self.conditions.inlet_c
        capacity = (self._c_upper + self._c_lower) * max(MAX_STORAGE_C - t_in, 0.0) / J_PER_WH
        return TankReading(
            elapsed_s=self.elapsed_s,
            upper_c=self.t_upper,
            lower_c=self.t_lower,
            mean_c=self.mean_c,
            stored_wh=self._heat_above_wh(t_in),
            capacity_wh=capacity,
            usable_wh=self._heat_above_wh(MIN_USEFUL_C),
            power_w=self._last_power_w,
            hp_on=self.hp_on,
            top_element_on=self.top_on,
            bottom_element_on=self.bottom_on,
            min_delivered_c=self._min_delivered_c,
            totals=self.totals(),
        )

    def totals(self) -> TankTotals:
        return TankTotals(
            electric_wh=(self._hp_elec + self._el_elec) / J_PER_WH,
            hp_electric_wh=self._hp_elec / J_PER_WH,
            element_electric_wh=self._el_elec / J_PER_WH,
            hp_heat_wh=self._hp_heat / J_PER_WH,
            element_heat_wh=self._el_heat / J_PER_WH,
            delivered_wh=self._delivered / J_PER_WH,
            loss_wh=self._loss / J_PER_WH,
            drawn_l=self._drawn_l,
            hp_runtime_s=self._hp_runtime,
            element_runtime_s=self._el_runtime,
        )

    @property
    def mean_c(self) -> float:
        return self._f * self.t_upper + (1 - self._f) * self.t_lower

    @property
    def heat_content_wh(self) -> float:
        """Sensible heat relative to the mains temperature, signed (for energy balances)."""
        t_in = self.conditions.inlet_c
        return (
            self._c_upper * (self.t_upper - t_in) + self._c_lower * (self.t_lower - t_in)
        ) / J_PER_WH

    def _heat_above_wh(self, floor_c: float) -> float:
        return (
            self._c_upper * max(self.t_upper - floor_c, 0.0)
            + self._c_lower * max(self.t_lower - floor_c, 0.0)
        ) / J_PER_WH

    # -- physics ----------------------------------------------------------------------------

    def _step(
        self, dt: float, setpoint: float, deadband: float, element_ok: bool, hp_ok: bool
    ) -> None:
        model, cond = self.model, self.conditions
        self._draw(self.draws.litres_between(self.elapsed_s, self.elapsed_s + dt))
        self._update_lockout(cond.ambient_c)

        # Thermostat decisions at the start of the step (hysteresis via the on flags).
        in_top_off = self.elapsed_s < self._top_off_until_s
        hp_band = 0.0 if in_top_off else deadband
        hp_target = min(setpoint, model.max_refrigerant_temp_c - CONDENSER_MARGIN_C)
        capacity_w, input_w = model.performance.lookup(cond.ambient_c, self.t_lower)
        compressor_can_run = hp_ok and not self._hp_locked_out and capacity_w > 0 and input_w > 0
        # A widened deadband moves the control set point, so it widens the standby trigger too.
        standby_band = max(model.hp_standby_differential_c, hp_band)
        if self.hp_on or self.bottom_on:
            wants_heat = self.t_lower < hp_target
        else:
            wants_heat = (
                self.t_lower < setpoint - hp_band or self.t_upper < setpoint - standby_band
            ) and self.t_lower < hp_target
        if self.top_on:
            self.top_on = element_ok and self.t_upper < setpoint
        else:
            self.top_on = element_ok and self.t_upper < model.top_element_turn_on_c(setpoint)
        self.hp_on = wants_heat and compressor_can_run
        # The bottom element backs the compressor up (model file: backup_heat_source_id); the
        # two elements never run together (top has priority).
        bottom_limit = setpoint
        if model.bottom_element_shut_off_c is not None:
            bottom_limit = min(bottom_limit, model.bottom_element_shut_off_c)
        self.bottom_on = (
            wants_heat
            and not compressor_can_run
            and element_ok
            and not self.top_on
            and self.t_lower < bottom_limit
        )

        # Heat input, cut short when a node reaches its target within the step.
        q_lower = (capacity_w if self.hp_on else 0.0) + (
            model.bottom_element_w if self.bottom_on else 0.0
        )
        lower_goal = hp_target if self.hp_on else bottom_limit
        r_lower = _runtime_fraction(q_lower, dt, self._c_lower, lower_goal - self.t_lower)
        q_upper = model.top_element_w if self.top_on else 0.0
        r_upper = _runtime_fraction(q_upper, dt, self._c_upper, setpoint - self.t_upper)

        hp_heat = capacity_w * r_lower * dt if self.hp_on else 0.0
        hp_elec = input_w * r_lower * dt if self.hp_on else 0.0
        bottom_heat = model.bottom_element_w * r_lower * dt if self.bottom_on else 0.0
        top_heat = q_upper * r_upper * dt
        ua = model.ua_w_per_k
        loss_upper = ua * self._f * (self.t_upper - cond.ambient_c) * dt
        loss_lower = ua * (1 - self._f) * (self.t_lower - cond.ambient_c) * dt

        self.t_upper += (top_heat - loss_upper) / self._c_upper
        self.t_lower += (hp_heat + bottom_heat - loss_lower) / self._c_lower
        if self.t_lower > self.t_upper:
            # Buoyancy: warmer water below rises; mix the nodes (energy-conserving).
            mixed = (self._c_upper * self.t_upper + self._c_lower * self.t_lower) / (
                self._c_upper + self._c_lower
            )
            self.t_upper = self.t_lower = mixed

        self._hp_elec += hp_elec
        self._hp_heat += hp_heat
        self._el_elec += bottom_heat + top_heat  # resistance: heat = electricity
        self._el_heat += bottom_heat + top_heat
        self._loss += loss_upper + loss_lower
        self._hp_runtime += r_lower * dt if self.hp_on else 0.0
        self._el_runtime += max(
            r_upper * dt if self.top_on else 0.0, r_lower * dt if self.bottom_on else 0.0
        )
        self._last_power_w = (hp_elec + bottom_heat + top_heat) / dt
        # A node that reached its goal has switched off within the step.
        if r_lower < 1.0:
            self.hp_on = self.bottom_on = False
        if r_upper < 1.0:
            self.top_on = False
        self.elapsed_s += dt

    def _draw(self, litres: float) -> None:
        if litres <= 0:
            return
        t_in = self.conditions.inlet_c
        slice_l = MAX_DRAW_FRACTION * min(self._v_upper, self._v_lower)
        slices = max(1, math.ceil(litres / slice_l))
        v = litres / slices
        for _ in range(slices):
            delivered_c = self.t_upper
            if self._min_delivered_c is None or delivered_c < self._min_delivered_c:
                self._min_delivered_c = delivered_c
            # Plug flow through two mixed nodes; both updates use the old temperatures, so the
            # energy removed is exactly ρc_p·v·(T_upper − T_in).
            new_upper = self.t_upper + v / self._v_upper * (self.t_lower - self.t_upper)
            self.t_lower += v / self._v_lower * (t_in - self.t_lower)
            self.t_upper = new_upper
            self._delivered += WATER_RHO_CP_J_PER_L_K * v * (delivered_c - t_in)
        self._drawn_l += litres

    def _update_lockout(self, ambient_c: float) -> None:
        model = self.model
        hyst = model.hp_lockout_hysteresis_c
        if self._hp_locked_out:
            self._hp_locked_out = not (
                model.hp_min_air_c + hyst <= ambient_c <= model.hp_max_air_c - hyst
            )
        else:
            self._hp_locked_out = not (model.hp_min_air_c <= ambient_c <= model.hp_max_air_c)


def _runtime_fraction(power_w: float, dt: float, heat_capacity: float, rise_c: float) -> float:
    """Fraction of the step a source must run to raise a node by ``rise_c`` (0..1)."""
    if power_w <= 0 or rise_c <= 0:
        return 0.0
    return min(1.0, rise_c * heat_capacity / (power_w * dt))


def _require_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _checked_controls(controls: Controls) -> tuple[float, float]:
    """Set point clamped to the thermostat's range, deadband to [0, MAX_DEADBAND_C]."""
    _require_finite("setpoint_c", controls.setpoint_c)
    _require_finite("deadband_c", controls.deadband_c)
    setpoint = min(max(float(controls.setpoint_c), MIN_SETPOINT_C), MAX_SETPOINT_C)
    deadband = min(max(float(controls.deadband_c), 0.0), MAX_DEADBAND_C)
    return setpoint, deadband

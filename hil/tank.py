"""Stratified tank of a heat-pump water heater, after HPWHsim's multi-node model.

The tank is a stack of equal, fully mixed nodes (the model file's ``number_of_nodes``, 12 or
24). A draw pushes water up the stack: cold mains water enters the bottom node and the top node
leaves through the outlet (plug flow); the bottom share of the tank named in the file
(``bottom_fraction_of_tank_mixing_on_draw``) then mixes, as HPWHsim does. Each heat source puts
its heat where the file says (``heat_distribution``): the wrapped condenser around the bottom
third or so, weighted towards the colder nodes, the top element at two thirds of the height, the
bottom element in the bottom node; heat added to a node warms it to the node above, then both to
the next, and so on up to the target, so the tank stays stratified. The compressor's capacity
and input power come from the product's performance map at the condenser temperature (the
heat-distribution-weighted mean of the nodes it wraps) and the air temperature. That is why a
stratified model matters: after a draw the condenser sees cold water and works at a high COP,
where a two-node tank mixes the cold water into half the tank and runs the map at a warm,
inefficient point (docs/hpwh-simulation.md, "Why nodes").

Control follows the model file's logic (HPWHsim turn-on/shut-off) with the set point and the
compressor's turn-on differential taken from the controls each step, the way CTA-2045 products
are driven (docs/hpwh.md §7): the compressor starts when the file's sensor region (the bottom third)
falls ``deadband_c`` below the set point, or the top node 5 °C below it (standby); a set-point
raise tops the tank off with a zero deadband for a few minutes; element lockout is absolute.

A thermostatic mixing valve (``mixing_valve_c``) makes draws volumes of mixed water at the valve
setting: when the top of the tank is hotter than the setting the tank gives only the hot share
and mains water makes up the rest, so the heat delivered is what the household uses whatever the
tank temperature; the water at the valve's outlet is min(top of tank, valve setting). Without a
valve (the DOE test, which measures the heater itself) draws leave at the tank's temperature.

Units: °C, W, J inside; Wh in the reported totals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from hil.draws import DrawProfile
from hil.hpwh_model import WATER_RHO_CP_J_PER_L_K, HpwhProduct

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
# HPWHsim's wrapped-condenser distribution is offset by 5 °F (``calcThermalDist``).
WRAPPED_OFFSET = 5.0 / 1.8
# Keep the condenser a little below HPWHsim's maximum refrigerant temperature.
CONDENSER_MARGIN_C = 2.0
# Physics step: ≤ 60 s resolves the DOE draws (docs/hpwh.md §6).
DEFAULT_MAX_STEP_S = 60.0
# More nodes than HPWHsim ever uses would only cost time.
MAX_NODES = 96
# Thermostatic mixing valves for domestic hot water are set between about 30 and 70 °C; the
# default setting, 49 °C (120 °F), is the usual scald-protection figure (docs/hpwh.md §6.3).
MIN_VALVE_C = 30.0
MAX_VALVE_C = 70.0
DEFAULT_VALVE_C = 49.0


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
    used_l: float = 0.0  # water the household used: mixed water at the valve, else = drawn_l


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
    nodes_c: tuple[float, ...] = ()  # node temperatures, bottom first
    outlet_c: float = math.nan  # what a tap gets now: min(top node, valve setting)

    @property
    def heating(self) -> bool:
        return self.hp_on or self.top_element_on or self.bottom_element_on


class StratifiedTank:
    """Time-stepped stratified tank; ``advance`` moves it forward under the given controls."""

    def __init__(
        self,
        model: HpwhProduct,
        draws: DrawProfile,
        *,
        conditions: Conditions | None = None,
        initial_temp_c: float | None = None,
        start_s: float = 0.0,
        nodes: int | None = None,
        mixing_valve_c: float | None = None,
        max_step_s: float = DEFAULT_MAX_STEP_S,
    ) -> None:
        n = model.number_of_nodes if nodes is None else nodes
        if not 2 <= n <= MAX_NODES:
            raise ValueError(f"nodes must be in [2, {MAX_NODES}], got {n!r}")
        if not max_step_s > 0:
            raise ValueError(f"max_step_s must be > 0, got {max_step_s!r}")
        self.model = model
        self.draws = draws
        self.conditions = conditions or Conditions()
        if mixing_valve_c is not None:
            _require_finite("mixing_valve_c", mixing_valve_c)
            if not MIN_VALVE_C <= mixing_valve_c <= MAX_VALVE_C:
                raise ValueError(
                    f"mixing_valve_c must be in [{MIN_VALVE_C}, {MAX_VALVE_C}] °C, "
                    f"got {mixing_valve_c!r}"
                )
        self.mixing_valve_c = mixing_valve_c
        self.max_step_s = max_step_s
        self.nodes = n
        self._v_node = model.volume_l / n
        self._c_node = self._v_node * WATER_RHO_CP_J_PER_L_K
        self._ua_node = model.ua_w_per_k / n
        self._w_condenser = model.compressor_heat.node_weights(n)
        self._condenser_lowest = next(i for i, w in enumerate(self._w_condenser) if w > 0)
        self._condenser_shrinkage_c = _shrinkage_c(self._w_condenser)
        self._w_hp_sensor = model.compressor_sensor.node_weights(n)
        self._w_top_sensor = model.top_element_sensor.node_weights(n)
        self._w_bottom_sensor = model.bottom_element_sensor.node_weights(n)
        self._top_nodes = _heated_nodes(model.top_element_heat.node_weights(n))
        self._bottom_nodes = _heated_nodes(model.bottom_element_heat.node_weights(n))
        self._mixed_on_draw = int(n * model.draw_mixing_fraction)
        start_c = model.standard_setpoint_c if initial_temp_c is None else initial_temp_c
        _require_finite("initial_temp_c", start_c)
        self.t: list[float] = [float(start_c)] * n  # bottom node first
        self.elapsed_s = float(start_s)
        self._setpoint_c: float | None = None
        self._top_off_until_s = -math.inf
        self.hp_on = self.top_on = self.bottom_on = False
        self._hp_locked_out = False
        self._last_power_w = 0.0
        self._min_delivered_c: float | None = None
        # Accounts, J and s.
        self._hp_elec = self._el_elec = self._hp_heat = self._el_heat = 0.0
        self._delivered = self._loss = self._drawn_l = self._used_l = 0.0
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
        capacity = self._c_node * self.nodes * max(MAX_STORAGE_C - t_in, 0.0) / J_PER_WH
        half = self.nodes // 2
        return TankReading(
            elapsed_s=self.elapsed_s,
            upper_c=sum(self.t[half:]) / (self.nodes - half),
            lower_c=sum(self.t[:half]) / half,
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
            nodes_c=tuple(self.t),
            outlet_c=self.outlet_c,
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
            used_l=self._used_l,
        )

    @property
    def mean_c(self) -> float:
        return sum(self.t) / self.nodes

    @property
    def outlet_c(self) -> float:
        """Water temperature a tap would get now: at the valve's outlet when one is fitted."""
        top = self.t[-1]
        return top if self.mixing_valve_c is None else min(top, self.mixing_valve_c)

    @property
    def heat_content_wh(self) -> float:
        """Sensible heat relative to the mains temperature, signed (for energy balances)."""
        t_in = self.conditions.inlet_c
        return self._c_node * sum(t - t_in for t in self.t) / J_PER_WH

    def _heat_above_wh(self, floor_c: float) -> float:
        return self._c_node * sum(max(t - floor_c, 0.0) for t in self.t) / J_PER_WH

    # -- physics ----------------------------------------------------------------------------

    def _step(
        self, dt: float, setpoint: float, deadband: float, element_ok: bool, hp_ok: bool
    ) -> None:
        model, cond, t = self.model, self.conditions, self.t
        if self._draw(self.draws.litres_between(self.elapsed_s, self.elapsed_s + dt)):
            _mix_bottom(t, self._mixed_on_draw)
        self._update_lockout(cond.ambient_c)

        # Thermostat decisions at the start of the step (HPWHsim: logic first, then heating).
        in_top_off = self.elapsed_s < self._top_off_until_s
        hp_band = 0.0 if in_top_off else deadband
        # A deadband wider than the file's turn-on differential (shed) widens the standby
        # trigger by as much, so the top-of-tank rule does not undo the shed.
        standby_band = model.hp_standby_differential_c + max(
            0.0, hp_band - model.hp_turn_on_differential_c
        )
        hp_target = min(setpoint, model.max_refrigerant_temp_c - CONDENSER_MARGIN_C)
        t_condenser = _dot(self._w_condenser, t)
        capacity_w, input_w = model.performance.lookup(cond.ambient_c, t_condenser)
        compressor_can_run = hp_ok and not self._hp_locked_out and capacity_w > 0 and input_w > 0
        if self.hp_on or self.bottom_on:
            wants_heat = True  # runs until the heat no longer fits below the target
        else:
            wants_heat = (
                _dot(self._w_hp_sensor, t) < setpoint - hp_band or t[-1] < setpoint - standby_band
            )
        if self.top_on:
            self.top_on = element_ok
        else:
            self.top_on = element_ok and _dot(self._w_top_sensor, t) < model.top_element_turn_on_c(
                setpoint
            )
        # The top element has priority; the compressor runs beside it only as its companion.
        hp_beside_top = not self.top_on or model.top_element_companion
        self.hp_on = wants_heat and compressor_can_run and hp_beside_top
        # The bottom element backs the compressor up (model file: backup_heat_source_id) and
        # stops once the bottom is warm (its shut-off logic); never beside the top element.
        bottom_limit = setpoint
        if model.bottom_element_shut_off_c is not None:
            bottom_limit = min(bottom_limit, model.bottom_element_shut_off_c)
        self.bottom_on = (
            wants_heat
            and not compressor_can_run
            and element_ok
            and not self.top_on
            and _dot(self._w_bottom_sensor, t) < bottom_limit
        )

        top_heat = bottom_heat = hp_heat = 0.0
        top_done = bottom_done = hp_done = False
        if self.top_on:
            offered = model.top_element_w * dt
            top_heat = offered - self._add_heat(self._top_nodes, offered, setpoint)
            top_done = top_heat < offered * (1 - 1e-9)
        if self.hp_on:
            offered = capacity_w * dt
            shares = _condenser_shares(
                self._condenser_lowest, self._condenser_shrinkage_c, t, hp_target
            )
            hp_heat = offered - self._add_heat(shares, offered, hp_target)
            hp_done = hp_heat < offered * (1 - 1e-9)
        if self.bottom_on:
            offered = model.bottom_element_w * dt
            bottom_heat = offered - self._add_heat(self._bottom_nodes, offered, setpoint)
            bottom_done = bottom_heat < offered * (1 - 1e-9)
        hp_fraction = hp_heat / (capacity_w * dt) if self.hp_on else 0.0
        hp_elec = input_w * hp_fraction * dt

        loss = 0.0
        for i, temp in enumerate(t):
            q = self._ua_node * (temp - cond.ambient_c) * dt
            t[i] = temp - q / self._c_node
            loss += q
        _mix_inversions(t)

        self._hp_elec += hp_elec
        self._hp_heat += hp_heat
        self._el_elec += bottom_heat + top_heat  # resistance: heat = electricity
        self._el_heat += bottom_heat + top_heat
        self._loss += loss
        self._hp_runtime += hp_fraction * dt
        self._el_runtime += max(
            top_heat / model.top_element_w, bottom_heat / model.bottom_element_w
        )
        self._last_power_w = (hp_elec + bottom_heat + top_heat) / dt
        # A source whose heat no longer fitted below its target has switched off in the step;
        # a top element that stops hands over to the compressor when the file says so.
        if top_done:
            self.top_on = False
            if model.top_element_followed_by_compressor and compressor_can_run and not hp_done:
                self.hp_on = True
        if hp_done:
            self.hp_on = False
        if bottom_done or (
            self.bottom_on
            and model.bottom_element_shut_off_c is not None
            and _dot(self._w_bottom_sensor, t) > model.bottom_element_shut_off_c
        ):
            self.bottom_on = False
        self.elapsed_s += dt

    def _add_heat(self, shares: Sequence[tuple[int, float]], heat_j: float, target: float) -> float:
        """Put ``heat_j`` into the nodes by share (HPWHsim ``addHeatAboveNode``); the leftover.

        Each share warms its node to the temperature of the node above, then the two together
        to the next one, and so on, never above ``target``: the heat rises as it would in water.
        Shares come topmost first; what a node cannot take passes to the next one down.
        """
        if not shares:
            return heat_j  # no node below the target: nothing can be heated
        t, c = self.t, self._c_node
        leftover = 0.0
        for node, share in shares:
            q = heat_j * share + leftover
            lo, hi = node, node
            temp = t[node]
            while q > 0:
                if hi + 1 < self.nodes and t[hi + 1] <= temp:
                    # The next node is no warmer: it joins the heated group.
                    temp = (temp * (hi - lo + 1) + t[hi + 1]) / (hi - lo + 2)
                    hi += 1
                    continue
                level = min(t[hi + 1], target) if hi + 1 < self.nodes else target
                if temp >= level:
                    break
                need = (level - temp) * c * (hi - lo + 1)
                if q < need:
                    temp += q / (c * (hi - lo + 1))
                    q = 0.0
                    break
                q -= need
                temp = level
                if level >= target or hi + 1 >= self.nodes:
                    break
            for i in range(lo, hi + 1):
                t[i] = temp
            leftover = q
        return leftover

    def _draw(self, litres: float) -> bool:
        """Take ``litres`` of water at the outlet (mixed water when a valve is fitted)."""
        if litres <= 0:
            return False
        t, t_in, valve = self.t, self.conditions.inlet_c, self.mixing_valve_c
        slices = max(1, math.ceil(litres / self._v_node))
        mixed = litres / slices
        for _ in range(slices):
            top = t[-1]
            if valve is not None and top > valve and valve > t_in:
                hot = mixed * (valve - t_in) / (top - t_in)
                out_c = valve
            else:
                hot = mixed
                out_c = top
            if self._min_delivered_c is None or out_c < self._min_delivered_c:
                self._min_delivered_c = out_c
            # Plug flow: each node takes the share ``a`` of the node below (mains water for the
            # bottom one) and gives as much to the node above; the top node's share leaves.
            a = hot / self._v_node
            for i in range(self.nodes - 1, 0, -1):
                t[i] += a * (t[i - 1] - t[i])
            t[0] += a * (t_in - t[0])
            self._delivered += WATER_RHO_CP_J_PER_L_K * hot * (top - t_in)
            self._drawn_l += hot
            self._used_l += mixed
        return True

    def _update_lockout(self, ambient_c: float) -> None:
        model = self.model
        hyst = model.hp_lockout_hysteresis_c
        if self._hp_locked_out:
            self._hp_locked_out = not (
                model.hp_min_air_c + hyst <= ambient_c <= model.hp_max_air_c - hyst
            )
        else:
            self._hp_locked_out = not (model.hp_min_air_c <= ambient_c <= model.hp_max_air_c)


#: Kept for callers that predate the stratified model; the node count comes from the file.
TwoNodeTank = StratifiedTank


def _dot(weights: Sequence[float], temps: Sequence[float]) -> float:
    return sum(w * x for w, x in zip(weights, temps, strict=True))


def _heated_nodes(weights: Sequence[float]) -> tuple[tuple[int, float], ...]:
    """(node, share) for the nodes a resistance element heats, topmost first."""
    return tuple((i, w) for i, w in reversed(list(enumerate(weights))) if w > 0)


def _condenser_shares(
    lowest: int, shrinkage_c: float, temps: Sequence[float], target: float
) -> tuple[tuple[int, float], ...]:
    """Where a wrapped condenser's heat goes, topmost node first (HPWHsim ``calcThermalDist``).

    Every node from the lowest one the condenser touches upward gets a weight that falls off
    logistically as the node is warmer than that lowest node (width ``shrinkage_c``, offset
    5 °F), times how far it is below the target: the heat goes into the cold water at the
    bottom and reaches the warm layers above only as the bottom catches up.
    """
    base = temps[lowest]
    raw = []
    for i in range(lowest, len(temps)):
        room = target - temps[i]
        if room > 0:
            x = (temps[i] - base) / shrinkage_c - WRAPPED_OFFSET
            weight = room / (1.0 + math.exp(x)) if x < 700 else 0.0
            if weight > 0:
                raw.append((i, weight))
    total = sum(w for _, w in raw)
    if total <= 0:
        return ()
    return tuple((i, w / total) for i, w in reversed(raw))


def _shrinkage_c(weights: Sequence[float]) -> float:
    """Width of the wrapped condenser's heat distribution (HPWHsim ``findShrinkageT_C``): 1 °C
    plus 2 °C per nat of the condenser's spread over the tank, as if the tank had 12 nodes."""
    entropy = -sum(w * math.log(w) for w in weights if w > 0)
    return 1.0 + 2.0 * (entropy - math.log(len(weights) / 12.0))


def _mix_bottom(temps: list[float], count: int) -> None:
    """Mix the bottom ``count`` nodes a third of the way to their mean (HPWHsim on a draw)."""
    if count < 2:
        return
    mean = sum(temps[:count]) / count
    for i in range(count):
        temps[i] += (mean - temps[i]) / 3.0


def _mix_inversions(temps: list[float]) -> None:
    """Warmer water below colder rises: merge inverted runs into their mean (energy-conserving)."""
    if all(a <= b for a, b in pairwise(temps)):
        return
    blocks: list[list[float]] = []  # [sum, count]
    for temp in temps:
        blocks.append([temp, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    i = 0
    for total, count in blocks:
        for _ in range(int(count)):
            temps[i] = total / count
            i += 1


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

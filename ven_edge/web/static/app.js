// ven-edge status page: polls /api/status and updates the page in place.
// No inline scripts (the server's Content-Security-Policy forbids them) and no external requests.
// Data from the API only ever goes into textContent, never into HTML markup.
"use strict";

(function () {
  let pollMs = 5000; // plain polling period, and retry period; the server may say otherwise
  const LONG_POLL_WAIT_S = 25; // long-poll: the server answers at once on a change
  const LONG_POLL_GAP_MS = 500; // at most two renders a second, however often the state changes
  const HOUR_MS = 3600 * 1000;
  const WINDOW_MS = 24 * HOUR_MS;

  const KIND_NAMES = {
    PRICE: "Price signal",
    SIMPLE: "Demand response",
    GRID_EMERGENCY: "Grid emergency",
    IMPORT_CAPACITY_LIMIT: "Capacity limit",
    GHG: "Carbon signal",
    SHED: "Save energy",
    END_SHED: "Back to normal",
    LOAD_UP: "Pre-heat",
    CRITICAL_PEAK: "Critical peak",
    NORMAL: "Normal",
  };

  const COLORS = {
    heat: "rgba(232, 150, 72, 0.7)", // heating in normal operation
    preheat: "rgba(204, 84, 0, 0.9)", // heating because the plan pre-heats
    price: "rgb(22, 96, 171)",
    grid: "rgba(0, 0, 0, 0.08)",
    text: "#4a4f57",
  };

  const $ = (id) => document.getElementById(id);

  // --- formatting -------------------------------------------------------------------------

  // Times come as RFC 3339 in the gateway's local zone: show the wall clock as written, so the
  // page agrees with the heater-state text ("until 19:00") whatever zone the viewer is in.
  function hhmm(iso) {
    return iso ? iso.slice(11, 16) : "";
  }

  // "" on the same day as nowIso, "Tomorrow " on the next, else the weekday ("Sat ").
  function dayPrefix(iso, nowIso) {
    const day = (value) => Date.UTC(+value.slice(0, 4), +value.slice(5, 7) - 1, +value.slice(8, 10));
    const days = Math.round((day(iso) - day(nowIso)) / (24 * HOUR_MS));
    if (days === 0) return "";
    if (days === 1) return "Tomorrow ";
    return ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][new Date(day(iso)).getUTCDay()] + " ";
  }

  function ms(iso) {
    return iso ? Date.parse(iso) : NaN;
  }

  function duration(milliseconds) {
    const minutes = Math.max(0, Math.round(milliseconds / 60000));
    if (minutes < 1) return "less than a minute";
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    if (hours < 48) return rest ? hours + " h " + rest + " min" : hours + " h";
    return Math.round(hours / 24) + " days";
  }

  function ago(iso, nowIso) {
    if (!iso) return "never";
    const delta = ms(nowIso) - ms(iso);
    if (delta < 60000) return Math.max(0, Math.round(delta / 1000)) + " s ago";
    return duration(delta) + " ago";
  }

  function kindName(kind) {
    if (!kind) return "";
    if (KIND_NAMES[kind]) return KIND_NAMES[kind];
    if (kind.startsWith("ALERT_")) return "Alert";
    const words = kind.toLowerCase().replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function number(value, digits) {
    return value === null || value === undefined ? null : Number(value).toFixed(digits);
  }

  // --- small DOM helpers ------------------------------------------------------------------

  function setText(id, text) {
    const element = $(id);
    if (element.textContent !== text) element.textContent = text;
  }

  function el(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = text;
    return element;
  }

  // Replace the children of a container only when what they show changed.
  function fill(container, key, build) {
    if (container.dataset.key === key) return;
    container.dataset.key = key;
    container.replaceChildren(...build());
  }

  // --- sections ---------------------------------------------------------------------------

  function renderHeater(heater) {
    const card = $("heater-card");
    card.dataset.mode = heater.mode;
    setText("state-text", heater.state_text);

    if (heater.tank_temp_f === null) {
      setText("temp", "–");
      setText("temp-sub", "not reported");
    } else {
      setText("temp", number(heater.tank_temp_f, 0) + " °F");
      let sub = number(heater.tank_temp_c, 0) + " °C";
      if (heater.set_point_f !== null) sub += " · set to " + number(heater.set_point_f, 0) + " °F";
      setText("temp-sub", sub);
    }

    if (heater.power_w === null) {
      setText("power", "–");
      setText("power-sub", "not reported");
    } else {
      const watts = Number(heater.power_w);
      setText("power", watts >= 1000 ? (watts / 1000).toFixed(2) + " kW" : watts + " W");
      setText("power-sub", watts > 0 ? "heating" : "not heating");
    }

    const bar = $("stored-bar");
    if (heater.stored_pct === null) {
      setText("stored-text", "not reported");
      bar.removeAttribute("aria-valuenow");
      $("stored-fill").style.width = "0%";
    } else {
      const pct = Math.round(heater.stored_pct);
      let text = pct + " %";
      if (heater.stored_kwh !== null && heater.capacity_kwh !== null) {
        text += " · " + number(heater.stored_kwh, 1) + " of " + number(heater.capacity_kwh, 1) + " kWh";
      }
      setText("stored-text", text);
      bar.setAttribute("aria-valuenow", String(pct));
      $("stored-fill").style.width = pct + "%";
    }
  }

  function eventBlock(label, event, nowIso, current) {
    const parts = [el("p", "label", label)];
    if (!event) {
      parts.push(el("p", "event-none", current ? "No grid event right now." : "Nothing scheduled."));
      return parts;
    }
    const title = el("p", "event-title");
    title.append(el("span", "badge", kindName(event.kind)), " ", el("span", "", event.summary));
    parts.push(title);
    let when =
      dayPrefix(event.start, nowIso) +
      hhmm(event.start) +
      " – " +
      (event.end ? hhmm(event.end) : "until further notice");
    if (current && event.end) when += " · " + duration(ms(event.end) - ms(nowIso)) + " left";
    if (!current) when += " · starts in " + duration(ms(event.start) - ms(nowIso));
    parts.push(el("p", "event-when", when));
    // The program's name as the utility gave it; its id means nothing to a homeowner.
    if (event.program_name) parts.push(el("p", "muted small", "Program: " + event.program_name));
    return parts;
  }

  function renderEvents(events, nowIso) {
    // The time left changes every minute: include it in the key.
    const minute = nowIso.slice(0, 16);
    fill($("event-current"), JSON.stringify([events.current, minute]), () =>
      eventBlock("Now", events.current, nowIso, true),
    );
    fill($("event-next"), JSON.stringify([events.next, minute]), () =>
      eventBlock("Next", events.next, nowIso, false),
    );
  }

  // The plan intervals that overlap [now, now + 24 h).
  function windowIntervals(plan, nowIso) {
    const now = ms(nowIso);
    const step = plan.step_minutes * 60000;
    return plan.intervals.filter((interval) => {
      const start = ms(interval.start);
      return start + step > now && start < now + WINDOW_MS;
    });
  }

  function commandAt(plan, iso) {
    const t = ms(iso);
    return plan.commands.find(
      (command) => ms(command.start) <= t && (command.end === null || t < ms(command.end)),
    );
  }

  // Room above the largest value on each axis (Chart.js "grace", then rounded up to a tick), so
  // that the tallest bar or the highest price never touches the frame and looks cut off. Each
  // axis fits its own data: kWh and price have nothing in common.
  const AXIS_HEADROOM = "15%";

  // The utility's prices may stop before the plan does (or pause): say where, rather than let
  // a line that just ends look like a drawing fault. null when every step has a price.
  function priceGapNote(intervals, nowIso) {
    const missing = intervals.map((interval) => interval.price === null);
    if (!missing.includes(true)) return null;
    if (!missing.includes(false)) return "No price from the utility for the next 24 hours.";
    const when = (interval) => {
      const day = dayPrefix(interval.start, nowIso).trim();
      const suffix = day === "" ? "" : day === "Tomorrow" ? " tomorrow" : " on " + day;
      return hhmm(interval.start) + suffix;
    };
    const gaps = [];
    for (let i = 0; i < intervals.length; i++) {
      if (!missing[i] || (i > 0 && missing[i - 1])) continue;
      let j = i;
      while (j + 1 < intervals.length && missing[j + 1]) j++;
      if (j === intervals.length - 1) gaps.push(i === 0 ? null : "after " + when(intervals[i]));
      else if (i === 0) gaps.push("before " + when(intervals[j + 1]));
      else gaps.push(when(intervals[i]) + "–" + hhmm(intervals[j + 1].start));
    }
    return "No price from the utility " + gaps.join(", ") + ": the price line stops there.";
  }

  let chart = null;
  let chartKey = null;

  function renderChart(plan, nowIso) {
    const canvas = $("plan-chart");
    if (typeof window.Chart === "undefined") {
      canvas.hidden = true;
      $("chart-missing").hidden = false;
      return;
    }
    const intervals = windowIntervals(plan, nowIso);
    // No empty axes before the first plan: the list beneath says there is none.
    canvas.parentElement.hidden = intervals.length === 0;
    const note = intervals.length ? priceGapNote(intervals, nowIso) : null;
    setText("price-note", note || "");
    $("price-note").hidden = note === null;
    const key = JSON.stringify([intervals, plan.commands, plan.price_unit, nowIso.slice(0, 10)]);
    if (key === chartKey) return;
    chartKey = key;

    const labels = intervals.map((interval) => hhmm(interval.start));
    const heat = intervals.map((interval) => interval.heat_kwh);
    const heatColors = intervals.map((interval) => {
      const command = commandAt(plan, interval.start);
      return command && command.kind === "LOAD_UP" ? COLORS.preheat : COLORS.heat;
    });
    // Fewer time labels on a phone.
    const ticks = canvas.parentElement.clientWidth < 520 ? 5 : 9;
    const price = intervals.map((interval) => interval.price);
    const priceUnit = plan.price_unit || "price";
    const priceLabel = price.includes(null) ? "Price (where the utility sent one)" : "Price";

    if (chart === null) {
      const Chart = window.Chart;
      Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      Chart.defaults.color = COLORS.text;
      chart = new Chart(canvas, {
        data: {
          labels: labels,
          datasets: [
            {
              type: "line",
              label: "Price",
              data: price,
              yAxisID: "price",
              stepped: "middle",
              borderColor: COLORS.price,
              backgroundColor: COLORS.price,
              borderWidth: 2,
              pointRadius: 0,
              pointHitRadius: 6,
              spanGaps: false,
              order: 0,
            },
            {
              type: "bar",
              label: "Planned heating (kWh)",
              data: heat,
              yAxisID: "kwh",
              backgroundColor: heatColors,
              borderWidth: 0,
              barPercentage: 1.0,
              categoryPercentage: 0.9,
              order: 1,
            },
          ],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          plugins: {
            legend: {
              position: "bottom",
              labels: {
                boxWidth: 14,
                // One entry per bar colour, so that pre-heating is explained.
                generateLabels: (c) => {
                  const entry = (text, color, index) => ({
                    text: text,
                    fillStyle: color,
                    strokeStyle: color,
                    lineWidth: 0,
                    datasetIndex: index,
                    hidden: !c.isDatasetVisible(index),
                  });
                  return [
                    entry(c.$venPriceLabel || "Price", COLORS.price, 0),
                    entry("Heating (kWh)", COLORS.heat, 1),
                    entry("Pre-heating (kWh)", COLORS.preheat, 1),
                  ];
                },
              },
            },
            tooltip: {
              callbacks: {
                title: (items) => (items.length ? "From " + items[0].label : ""),
                afterBody: (items) => {
                  if (!items.length || chart === null) return "";
                  const interval = chart.$venIntervals[items[0].dataIndex];
                  const command = interval ? commandAt(chart.$venPlan, interval.start) : null;
                  return command ? kindName(command.kind) + ": " + command.reason : "";
                },
              },
            },
          },
          scales: {
            x: {
              grid: { display: false },
              ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12, maxTicksLimit: ticks },
            },
            kwh: {
              type: "linear",
              position: "left",
              beginAtZero: true,
              grace: AXIS_HEADROOM,
              grid: { color: COLORS.grid },
              title: { display: true, text: "kWh" },
            },
            price: {
              type: "linear",
              position: "right",
              beginAtZero: true,
              grace: AXIS_HEADROOM,
              grid: { drawOnChartArea: false },
              title: { display: true, text: priceUnit },
            },
          },
        },
      });
    } else {
      chart.data.labels = labels;
      chart.data.datasets[0].data = price;
      chart.data.datasets[1].data = heat;
      chart.data.datasets[1].backgroundColor = heatColors;
      chart.options.scales.price.title.text = priceUnit;
      chart.options.scales.x.ticks.maxTicksLimit = ticks;
    }
    chart.$venIntervals = intervals;
    chart.$venPriceLabel = priceLabel;
    chart.$venPlan = plan;
    chart.update("none");
  }

  // "USD" from a price unit such as "USD/KWH"; null when there is none.
  function currencyOf(priceUnit) {
    if (!priceUnit) return null;
    return priceUnit.split("/")[0] || null;
  }

  function money(value, currency) {
    const text = number(value, 2);
    return currency ? text + " " + currency : text;
  }

  // Whose plan runs when the utility plans its fleet: its schedule or the gateway's own, and why.
  function renderPlanSource(plan) {
    const source = $("plan-source");
    source.textContent = plan.source ? plan.source.text : "";
    source.hidden = !plan.source;
  }

  // The day's expected saving, in money, when the planner estimates it; and the price unit.
  function renderSaving(plan) {
    renderPlanSource(plan);
    const currency = currencyOf(plan.price_unit);
    const saving = $("saving");
    if (plan.expected_saving === null || plan.expected_saving === undefined) {
      saving.hidden = true;
    } else {
      const amount = money(Math.abs(plan.expected_saving), currency);
      saving.textContent =
        plan.expected_saving >= 0
          ? "Expected saving over the next 24 hours: " +
            amount +
            " (" +
            money(plan.expected_cost, currency) +
            " instead of " +
            money(plan.normal_cost, currency) +
            " in normal operation)"
          : "Expected to cost " + amount + " more than normal operation (utility instructions)";
      saving.hidden = false;
    }
    const unit = $("price-unit");
    unit.textContent = plan.price_unit ? "Prices in " + plan.price_unit : "";
    unit.hidden = !plan.price_unit;
  }

  function renderClock(gateway) {
    $("clock").hidden = gateway.clock_synchronised !== false;
  }

  function renderCommands(plan, nowIso) {
    const now = ms(nowIso);
    const upcoming = plan.commands.filter(
      (command) => (command.end === null || ms(command.end) > now) && ms(command.start) < now + WINDOW_MS,
    );
    fill($("commands"), JSON.stringify([upcoming, plan.intervals.length]), () => {
      if (!upcoming.length) {
        const text = plan.intervals.length
          ? "No changes planned: the heater runs normally."
          : "No plan yet: the heater runs normally.";
        return [el("li", "muted", text)];
      }
      return upcoming.map((command) => {
        const item = el("li", "command");
        const started = ms(command.start) <= now;
        const when =
          (started ? "Now" : dayPrefix(command.start, nowIso) + hhmm(command.start)) +
          "–" +
          (command.end ? hhmm(command.end) : "…");
        item.append(
          el("span", "when", when),
          el("span", "badge kind-" + command.kind.toLowerCase(), kindName(command.kind)),
          el("span", "reason", command.reason),
        );
        return item;
      });
    });
  }

  function healthBlock(ok, title, details, error) {
    const parts = [];
    const head = el("p", "health-title");
    const dot = ok === null ? "dot off" : ok ? "dot ok" : "dot bad";
    head.append(el("span", dot), el("span", "", title));
    parts.push(head);
    const list = el("p", "muted small", details.filter(Boolean).join(" · "));
    parts.push(list);
    if (error) parts.push(el("p", "error small", error));
    return parts;
  }

  function renderHealth(health, nowIso) {
    const link = health.heater_link;
    fill($("link-health"), JSON.stringify([link, nowIso]), () =>
      healthBlock(
        link.ok,
        link.ok ? "Heater connected" : link.problem || "Heater not responding",
        [
          link.port ? "Port " + link.port : "No port",
          "last message " + ago(link.last_frame, nowIso),
          link.errors + (link.errors === 1 ? " error" : " errors"),
        ],
        null,
      ),
    );
    const vtn = health.vtn;
    fill($("vtn-health"), JSON.stringify([vtn, nowIso]), () => {
      // Without a VTN in the configuration nothing is wrong: the gateway runs on its own plan.
      if (!vtn.url) {
        return healthBlock(
          null,
          "No utility server configured",
          ["the heater follows the local plan and its own thermostat"],
          null,
        );
      }
      const parts = healthBlock(
        vtn.ok,
        vtn.ok ? "Utility server reachable" : "Utility server unreachable",
        [
          vtn.url,
          vtn.ven_id ? "registered as " + vtn.ven_id : "not registered",
          "last contact " + ago(vtn.last_contact, nowIso),
        ],
        vtn.last_error,
      );
      if (vtn.push) parts.push(...pushLines(vtn.push, nowIso));
      return parts;
    });
  }

  // How the utility's changes arrive (docs/status-api.md, health.vtn.push): at once by MQTT or
  // webhook, or only when the gateway polls. Per state of an MQTT connection: the words, and what
  // follows "since …".
  const PUSH_WORDS = {
    connecting: ["MQTT: connecting to the broker", "; polling meanwhile"],
    connected: ["MQTT: connected, subscribing", "; polling meanwhile"],
    subscribed: ["Notifications by MQTT", ""],
    unreachable: ["MQTT broker unreachable", "; polling instead"],
    refused: ["MQTT broker refused the gateway", "; polling instead"],
  };

  function pushLines(push, nowIso) {
    let words;
    if (push.channel === "mqtt") words = PUSH_WORDS[push.state] || ["MQTT: " + push.state, ""];
    else if (push.channel === "webhook") words = ["Notifications by webhook", ""];
    else words = ["Polling only (no notifications)", ""];
    const since = push.since ? " since " + dayPrefix(push.since, nowIso) + hhmm(push.since) : "";
    const text = words[0] + since + words[1];
    const lines = [el("p", "small push push-" + push.state, text)];
    if (push.broker) lines.push(el("p", "muted small", push.broker));
    if (push.problem) lines.push(el("p", "error small", push.problem));
    return lines;
  }

  function renderDevice(device) {
    fill($("device"), JSON.stringify(device), () => {
      if (!device) {
        return [el("dd", "muted span", "The heater has not sent its device information yet.")];
      }
      const hex = (value) => "0x" + Number(value).toString(16).toUpperCase().padStart(4, "0");
      const rows = [
        ["Type", device.device_type_name],
        ["Model", device.model],
        ["Serial number", device.serial],
        ["Firmware", device.firmware],
        ["Vendor ID", hex(device.vendor_id)],
        ["CTA-2045 version", device.cta2045_version],
        ["Commands sent", device.commands],
      ];
      const out = [];
      for (const [term, value] of rows) {
        out.push(el("dt", "", term), el("dd", value ? "" : "muted", value || "not reported"));
      }
      return out;
    });
  }

  function renderGateway(gateway, nowIso) {
    setText(
      "gateway",
      "ven-edge " + gateway.version + " · running for " + duration(gateway.uptime_s * 1000),
    );
    setText("updated", "Updated " + nowIso.slice(11, 19));
  }

  function render(status) {
    const now = status.generated_at;
    renderHeater(status.heater);
    renderEvents(status.events, now);
    renderChart(status.plan, now);
    renderCommands(status.plan, now);
    renderSaving(status.plan);
    renderClock(status.gateway);
    renderHealth(status.health, now);
    renderDevice(status.device);
    renderGateway(status.gateway, now);
    document.body.dataset.generatedAt = now;
  }

  // --- polling ----------------------------------------------------------------------------

  let lastGood = null;

  function setStale(stale) {
    const banner = $("stale");
    if (!stale) {
      banner.hidden = true;
      return;
    }
    banner.textContent = lastGood
      ? "No fresh information from the gateway. Showing the information from " +
        lastGood.slice(11, 16) +
        "."
      : "No information from the gateway yet. Retrying…";
    banner.hidden = false;
  }

  const sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds));

  async function poll() {
    let version = null;
    for (;;) {
      let delay = pollMs;
      try {
        const url =
          version === null ? "/api/status" : "/api/status?since=" + version + "&wait=" + LONG_POLL_WAIT_S;
        const response = await fetch(url, { cache: "no-store" });
        const interval = Number(response.headers.get("X-Poll-Interval"));
        if (interval > 0) pollMs = delay = interval * 1000;
        if (!response.ok) throw new Error("HTTP " + response.status);
        const status = await response.json();
        render(status);
        lastGood = status.generated_at;
        setStale(false);
        version = response.headers.get("X-Status-Version");
        if (version !== null) delay = LONG_POLL_GAP_MS;
      } catch (error) {
        version = null;
        setStale(true);
      }
      await sleep(delay);
    }
  }

  poll();
})();

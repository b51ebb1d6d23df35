// vtn-lite console: live fragments (server-sent events), the VEN chart, the dispatch form's
// UTC preview. Fragments come escaped from the server; nothing here builds markup from data.
"use strict";

function refreshFragments() {
  document.querySelectorAll("[data-live]").forEach(async (node) => {
    try {
      const response = await fetch(node.dataset.live, { credentials: "same-origin" });
      if (response.ok) {
        node.innerHTML = await response.text();
      }
    } catch (err) {
      // The next change or the periodic refresh tries again.
    }
  });
}

let chart = null;
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

async function refreshChart() {
  const canvas = document.getElementById("chart");
  if (!canvas || typeof Chart === "undefined") {
    return;
  }
  const response = await fetch(canvas.dataset.series, { credentials: "same-origin" });
  if (!response.ok) {
    return;
  }
  const data = await response.json();
  const datasets = Object.keys(data.series).sort().map((kind, index) => ({
    label: data.units[kind] ? `${kind} (${data.units[kind]})` : kind,
    data: data.series[kind].map((p) => ({ x: Date.parse(p.x), y: p.y })),
    borderColor: COLOURS[index % COLOURS.length],
    pointRadius: 2,
    tension: 0,
  }));
  if (chart === null) {
    chart = new Chart(canvas, {
      type: "line",
      data: { datasets },
      options: {
        animation: false,
        parsing: false,
        scales: {
          x: {
            type: "linear",
            ticks: { callback: (v) => new Date(v).toISOString().slice(11, 16) + " UTC" },
          },
        },
      },
    });
  } else {
    chart.data.datasets = datasets;
    chart.update();
  }
  canvas.dataset.points = String(datasets.reduce((n, d) => n + d.data.length, 0));
}

function refreshAll() {
  refreshFragments();
  refreshChart();
}

function listen() {
  if (!document.querySelector("[data-live]")) {
    return;
  }
  const source = new EventSource("/console/live");
  source.addEventListener("change", refreshAll);
  // Connection quality decays with time alone: refresh now and then even without changes.
  setInterval(refreshAll, 30000);
}

function dispatchForm() {
  const offset = document.getElementById("tz_offset");
  const startAt = document.getElementById("start_at");
  const shown = document.getElementById("start_utc");
  if (!offset || !startAt) {
    return;
  }
  // The server writes times in UTC (tz_offset 0); show them in the browser's zone instead.
  if (startAt.dataset.utc) {
    const at = new Date(startAt.dataset.utc);
    if (!isNaN(at)) {
      const local = new Date(at.getTime() - at.getTimezoneOffset() * 60000);
      startAt.value = local.toISOString().slice(0, 16);
    }
  }
  const update = () => {
    const local = new Date(startAt.value);
    offset.value = String(local.getTimezoneOffset() || new Date().getTimezoneOffset());
    shown.textContent = isNaN(local) ? "" : `= ${local.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  };
  startAt.addEventListener("input", update);
  update();
}

document.addEventListener("DOMContentLoaded", () => {
  dispatchForm();
  refreshChart();
  listen();
});

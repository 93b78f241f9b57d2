// Live view of a dataflow session: state as JSON text messages, the frame as a JPEG binary message.
// Every string from the graph goes into the page as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const frameCanvas = $("frame");
const frameCtx = frameCanvas.getContext("2d");
const plotCanvas = $("plot");
const plotCtx = plotCanvas.getContext("2d");
const PLOT_SECONDS = 10;
let latest = null;
let history = [];
let lastRepShown = 0;
let lastFpsShown = -Infinity;

function setText(id, text) {
  // Only a changed value touches the page: an unchanged one costs no layout or repaint.
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function fmt(value, digits) {
  return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
}

function jointColour(c) {
  // red (unsure) to green (sure), like the annotated video
  return `rgb(${Math.round(255 * (1 - c))}, ${Math.round(255 * c)}, 60)`;
}

// One colour per person id, as the annotated video draws them.
const PERSON_COLOURS = ["#00dcff", "#ffc800", "#c850ff", "#50ff50", "#ff7800", "#c8c8c8"];

function personColour(id) {
  return PERSON_COLOURS[(Number(id) || 0) % PERSON_COLOURS.length];
}

function drawSkeleton(kp, bones = "#0cf", label = null) {
  if (!kp || kp.presence < 0.5) return;
  const sx = frameCanvas.width / kp.size[0];
  const sy = frameCanvas.height / kp.size[1];
  const index = new Map(kp.names.map((n, i) => [n, i]));
  frameCtx.lineWidth = 3;
  frameCtx.strokeStyle = bones;
  for (const [a, b] of kp.skeleton) {
    const i = index.get(a), j = index.get(b);
    if (Math.min(kp.confidence[i], kp.confidence[j]) < 0.5) continue;
    frameCtx.beginPath();
    frameCtx.moveTo(kp.xy[i][0] * sx, kp.xy[i][1] * sy);
    frameCtx.lineTo(kp.xy[j][0] * sx, kp.xy[j][1] * sy);
    frameCtx.stroke();
  }
  kp.xy.forEach(([x, y], i) => {
    frameCtx.fillStyle = jointColour(kp.confidence[i]);
    frameCtx.beginPath();
    frameCtx.arc(x * sx, y * sy, 4, 0, 2 * Math.PI);
    frameCtx.fill();
  });
  if (label) {
    // Above the head: the highest sure joint.
    const sure = kp.xy.filter((_, i) => kp.confidence[i] >= 0.5);
    const top = (sure.length ? sure : kp.xy).reduce((a, b) => (b[1] < a[1] ? b : a));
    frameCtx.font = "bold 18px system-ui";
    frameCtx.lineWidth = 4;
    frameCtx.strokeStyle = "#000";
    // Kept inside the canvas: someone at the edge of the frame still shows their count.
    const x = Math.max(2, Math.min(top[0] * sx - 20, frameCanvas.width - frameCtx.measureText(label).width - 2));
    const y = Math.max(18, top[1] * sy - 12);
    frameCtx.strokeText(label, x, y);
    frameCtx.fillStyle = bones;
    frameCtx.fillText(label, x, y);
  }
}

function personLabel(p) {
  return `#${p.id} ${p.exercise || "…"} ${p.reps}`;
}

function drawFrame(image) {
  if (image) {
    if (frameCanvas.width !== image.width) {
      frameCanvas.width = image.width;
      frameCanvas.height = image.height;
    }
    frameCtx.drawImage(image, 0, 0, frameCanvas.width, frameCanvas.height);
  } else {
    frameCtx.fillStyle = "#000";
    frameCtx.fillRect(0, 0, frameCanvas.width, frameCanvas.height);
  }
  if (latest && latest.people) {
    for (const p of latest.people) drawSkeleton(p.keypoints, personColour(p.id), personLabel(p));
  } else if (latest) {
    drawSkeleton(latest.keypoints);
  }
}

function drawPlot() {
  const w = plotCanvas.width, h = plotCanvas.height;
  plotCtx.fillStyle = "#1d1d1d";
  plotCtx.fillRect(0, 0, w, h);
  const plot = latest && latest.plot;
  if (!plot || history.length < 2) return;
  const values = history.map((p) => p.v).filter((v) => v !== null);
  const limits = plot.thresholds.map((t) => t.value);
  let lo = Math.min(...values, ...limits), hi = Math.max(...values, ...limits);
  if (hi - lo < 1e-6) { hi += 1; lo -= 1; }
  const pad = (hi - lo) * 0.1;
  lo -= pad; hi += pad;
  const tEnd = history[history.length - 1].t;
  const x = (t) => w * (1 - (tEnd - t) / PLOT_SECONDS);
  const y = (v) => h * (1 - (v - lo) / (hi - lo));
  plotCtx.setLineDash([6, 4]);
  plotCtx.font = "12px system-ui";
  for (const t of plot.thresholds) {
    plotCtx.strokeStyle = "#888";
    plotCtx.beginPath();
    plotCtx.moveTo(0, y(t.value));
    plotCtx.lineTo(w, y(t.value));
    plotCtx.stroke();
    plotCtx.fillStyle = "#bbb";
    plotCtx.fillText(`${t.state} ${t.op} ${t.value}`, 4, y(t.value) - 3);
  }
  plotCtx.setLineDash([]);
  plotCtx.strokeStyle = "#fc0";
  plotCtx.lineWidth = 2;
  plotCtx.beginPath();
  let started = false;
  for (const p of history) {
    if (p.v === null) { started = false; continue; }
    if (started) plotCtx.lineTo(x(p.t), y(p.v)); else plotCtx.moveTo(x(p.t), y(p.v));
    started = true;
  }
  plotCtx.stroke();
}

function addRepRows(reps) {
  // The server sends the newest reps numbered over the session (n); rows are added newest first, 50 kept.
  const body = $("rep-table").querySelector("tbody");
  for (const rep of reps.filter((r) => r.n > lastRepShown)) {
    const row = body.insertRow(0);
    row.title = rep.exercise;
    if (rep.person !== undefined) {
      const who = row.insertCell();
      who.className = "who";
      who.textContent = `#${rep.person} ${rep.exercise}`;
      who.style.color = personColour(rep.person);
    }
    for (const text of [rep.rep, `${fmt(rep.duration, 2)} s`, fmt(rep.range_of_motion, 1), fmt(rep.energy, 3)]) {
      row.insertCell().textContent = String(text);
    }
    row.lastChild.className = "rep-energy";
    lastRepShown = rep.n;
  }
  while (body.rows.length > 50) body.deleteRow(-1);
}

function showPeople(counts) {
  // Everyone seen so far, also those who left: "#2 squat 3".
  const list = $("people-list");
  list.hidden = false;
  while (list.children.length > counts.length) list.lastChild.remove();
  counts.forEach((p, i) => {
    const item = list.children[i] || list.appendChild(document.createElement("li"));
    const text = personLabel(p);
    if (item.textContent !== text) item.textContent = text;
    item.style.color = personColour(p.id);
  });
}

function showState(s) {
  latest = s;
  if (s.people) {
    document.body.classList.add("people");
    setText("exercise", `people in view: ${s.people.length}`);
    showPeople(s.counts || []);
  }
  if (!s.people) setText("exercise", s.exercise || "recognizing…");
  setText("reps", String(s.reps));
  // Out of position, the reason the workout gives (a joint not seen, the body not horizontal, ...).
  setText("state", s.in_position === false ? `out of position: ${s.gate || "?"}` : s.state || "-");
  if (s.t - lastFpsShown >= 1 || s.ended) {  // once a second is enough to read, and costs no layout between
    setText("fps", s.fps ? `${Math.round(s.fps)} fps` : "");
    lastFpsShown = s.t;
  }
  const energy = s.energy === null || s.energy === undefined ? 0 : s.energy;
  // A transform, not a height: the bar moves without a layout of the page.
  const scale = `scaleY(${(Math.round(Math.max(0, Math.min(100, energy))) / 100).toFixed(2)})`;
  if ($("energy-fill").style.transform !== scale) $("energy-fill").style.transform = scale;
  setText("energy-value", fmt(s.energy, 0));
  if (s.plot) {
    const v = s.metrics[s.plot.metric];
    history.push({ t: s.t, v: v === undefined ? null : v });
    history = history.filter((p) => p.t >= s.t - PLOT_SECONDS);
    setText("plot-label", `${s.plot.metric}, last ${PLOT_SECONDS} s`);
  }
  drawPlot();
  addRepRows(s.rep_list || []);
  if (s.ended && s.summary) {
    $("status").textContent = "ended";
    const sum = s.summary;
    const what = sum.people
      ? sum.people.map(personLabel).join(", ") || "nobody counted"
      : `${sum.exercise || "no exercise"}: ${sum.reps} reps`;
    $("summary-text").textContent = `${what} in ${fmt(sum.seconds, 1)} s (${sum.frames} frames)`;
    $("summary").hidden = false;
    // The server names the report's address once there is one (drawn when it is opened).
    $("report-link").hidden = !s.report;
  }
}

function connect() {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.binaryType = "blob";
  socket.onopen = () => { $("status").textContent = "live"; $("status").classList.remove("off"); };
  socket.onmessage = async (msg) => {
    if (typeof msg.data === "string") {
      showState(JSON.parse(msg.data));
      if (!latest.frame) drawFrame(null);  // no picture in this graph: the skeleton on black
      return;
    }
    const image = await createImageBitmap(msg.data);
    drawFrame(image);
  };
  socket.onclose = () => {
    if (latest && latest.ended) return;
    $("status").textContent = "disconnected, retrying";
    $("status").classList.add("off");
    setTimeout(connect, 1000);
  };
}

drawFrame(null);
connect();

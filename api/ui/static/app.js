/* Agent Agency dashboard: what JavaScript adds to pages that work without it.
 * - timestamps in the viewer's own time zone (the page writes them in UTC);
 * - a one-time sign-in link (its token is in the URL fragment, never sent to a server)
 *   filled into the sign-in form and submitted;
 * - the overview's 24 h charts (uPlot);
 * - the chat panel's WebSocket: replies streamed token by token, resumed after a drop;
 * - small comforts: select every task, the waiver form's time zone, live output scrolled.
 * Live updates themselves are htmx and its SSE extension (attributes in the pages).
 */
(function () {
  "use strict";

  var absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "your time zone";

  function ago(date) {
    var s = Math.max(0, (Date.now() - date.getTime()) / 1000);
    if (s < 60) return Math.round(s) + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 172800) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
    return Math.floor(s / 86400) + " d ago";
  }

  function span(seconds) {
    if (seconds < 60) return seconds.toFixed(1) + " s";
    var m = Math.floor(seconds / 60);
    if (m < 60) return m + " min " + Math.floor(seconds % 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function localTimes(root) {
    var nodes = (root || document).querySelectorAll("time.ts[datetime]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var date = new Date(node.getAttribute("datetime"));
      if (isNaN(date.getTime())) continue;
      var kind = node.getAttribute("data-ts");
      if (kind === "rel") {
        node.textContent = ago(date);
        node.title = absolute.format(date);
      } else if (kind === "since") {
        node.textContent = span(Math.max(0, (Date.now() - date.getTime()) / 1000)) + " so far";
      } else {
        node.textContent = absolute.format(date);
      }
    }
    var labels = document.querySelectorAll("[data-tz]");
    for (var j = 0; j < labels.length; j++) labels[j].textContent = zone;
    var tzLabels = document.querySelectorAll("[data-tz-label]");
    for (var k = 0; k < tzLabels.length; k++) tzLabels[k].textContent = "(" + zone + ")";
  }

  function signInLink() {
    var form = document.getElementById("sign-in-form");
    if (!form || location.hash.indexOf("#link=") !== 0) return;
    var token = decodeURIComponent(location.hash.slice("#link=".length));
    // The token leaves the address bar (and the history) before anything else happens.
    history.replaceState(null, "", location.pathname + location.search);
    form.querySelector("[name=link]").value = token;
    var status = document.getElementById("link-status");
    if (status) status.textContent = "Signing in with the one-time link…";
    form.submit();
  }

  function charts() {
    var data = document.getElementById("chart-data");
    if (!data || typeof uPlot === "undefined") return;
    var s = JSON.parse(data.textContent);
    function draw(id, series, values) {
      var el = document.getElementById(id);
      if (!el) return;
      var width = Math.max(280, el.clientWidth || 500);
      var opts = {
        width: width,
        height: 200,
        legend: { show: true },
        scales: { x: { time: true } },
        axes: [{ stroke: "#545b66" }, { stroke: "#545b66" }],
        series: [{}].concat(series),
      };
      new uPlot(opts, [s.x].concat(values), el);
    }
    draw(
      "chart-tasks",
      [
        { label: "submitted", stroke: "#3b6fd8", width: 2 },
        { label: "completed", stroke: "#2f855a", width: 2 },
        { label: "failed", stroke: "#c53030", width: 2, dash: [6, 4] },
        { label: "interventions", stroke: "#b7791f", width: 2, dash: [2, 3] },
      ],
      [s.submitted, s.completed, s.failed, s.interventions]
    );
    draw(
      "chart-duration",
      [{ label: "p95 (s)", stroke: "#6639ba", width: 2, spanGaps: true }],
      [s.p95_s]
    );
  }

  function chat() {
    var panel = document.querySelector("section.chat[data-chat]");
    if (!panel || panel.getAttribute("data-can-send") !== "yes") return;
    var id = panel.getAttribute("data-chat");
    var transcript = document.getElementById("transcript");
    var status = document.getElementById("chat-status");
    var form = document.getElementById("chat-form");
    var input = document.getElementById("chat-input");
    var lastSeq = parseInt(panel.getAttribute("data-last-seq") || "0", 10);
    var reply = null;
    var socket = null;
    var retry = 500;
    var queued = null;

    function say(text) { if (status) status.textContent = text; }

    function item(role, text) {
      var li = document.createElement("li");
      li.className = "msg msg-" + role;
      var who = document.createElement("span");
      who.className = "msg-role";
      who.textContent = role === "user" ? "You" : "Model";
      var body = document.createElement("div");
      body.className = "msg-text";
      body.textContent = text;
      li.appendChild(who);
      li.appendChild(body);
      transcript.appendChild(li);
      return li;
    }

    function onFrame(frame) {
      if (frame.seq && frame.seq <= lastSeq) return;
      if (frame.type === "message") {
        item(frame.role, frame.content).setAttribute("data-seq", frame.seq);
        reply = null;
        say("The model is writing…");
      } else if (frame.type === "token") {
        if (!reply) { reply = item("assistant", ""); reply.setAttribute("aria-busy", "true"); }
        reply.querySelector(".msg-text").textContent += frame.text;
      } else if (frame.type === "final") {
        if (!reply) reply = item("assistant", "");
        reply.querySelector(".msg-text").textContent = frame.content;
        reply.setAttribute("data-seq", frame.seq);
        reply.removeAttribute("aria-busy");
        reply.setAttribute("data-testid", "reply-final");
        reply = null;
        say("Reply complete (" + (frame.finish_reason || "done") + ").");
      } else if (frame.type === "error") {
        say("Error: " + frame.detail);
      } else if (frame.type === "ready") {
        say("Connected.");
        if (queued) { socket.send(queued); queued = null; }
      }
      if (frame.seq) lastSeq = Math.max(lastSeq, frame.seq);
    }

    function connect() {
      var scheme = location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(scheme + "//" + location.host + "/ui/chat/ws/" + id + "?after=" + lastSeq);
      socket.onmessage = function (event) {
        try { onFrame(JSON.parse(event.data)); } catch (err) { say("Unreadable frame."); }
      };
      socket.onopen = function () { retry = 500; };
      socket.onclose = function (event) {
        if (event.code >= 4400 && event.code < 4500) { say("Closed: " + (event.reason || event.code)); return; }
        say("Connection lost; reconnecting…");
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 8000);
      };
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      var frame = JSON.stringify({ role: "user", content: text });
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(frame); else queued = frame;
      input.value = "";
      say("Sent.");
    });
    connect();
  }

  function selectAll() {
    var all = document.querySelector("[data-select-all]");
    if (!all) return;
    all.hidden = false;
    all.addEventListener("change", function () {
      var boxes = document.querySelectorAll("table.tasks input[name=task]");
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
    });
  }

  function tzOffset() {
    var fields = document.querySelectorAll("[data-tz-offset]");
    for (var i = 0; i < fields.length; i++) fields[i].value = String(-new Date().getTimezoneOffset());
  }

  function scrollOutputs(root) {
    var outputs = (root || document).querySelectorAll("pre[data-testid=live-output]");
    for (var i = 0; i < outputs.length; i++) outputs[i].scrollTop = outputs[i].scrollHeight;
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    signInLink();
    charts();
    chat();
    selectAll();
    tzOffset();
    scrollOutputs(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    localTimes(event.target);
    scrollOutputs(event.target);
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    localTimes(event.target);
    scrollOutputs(event.target);
  });
  setInterval(function () {
    var since = document.querySelectorAll("time.ts[data-ts=since]");
    for (var j = 0; j < since.length; j++) {
      var start = new Date(since[j].getAttribute("datetime"));
      since[j].textContent = span(Math.max(0, (Date.now() - start.getTime()) / 1000)) + " so far";
    }
  }, 5000);
  setInterval(function () {
    var rel = document.querySelectorAll("time.ts[data-ts=rel]");
    for (var i = 0; i < rel.length; i++) rel[i].textContent = ago(new Date(rel[i].getAttribute("datetime")));
  }, 30000);
})();

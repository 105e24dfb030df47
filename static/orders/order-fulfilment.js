/*
 * The order page's delivery block (templates/orders/_fulfilment.html): "Not shipped yet", then
 * "Shipped" with the carrier, the tracking number and the tracking link, live.
 *
 * Every status the payment block receives reaches this script as an "order:status" event on the
 * document (its payload's `fulfilment`, orders.notifications.order_fulfilment_payload). Once the
 * order is paid the payment block stops listening, so while a paid order waits to ship this
 * script keeps its own WebSocket (/ws/orders/<id>/), polling the status URL while the socket is
 * down, until the order ships.
 *
 * Contract: #order-fulfilment with data-fulfilment, data-paid, data-status-url, data-ws-path and
 * data-key, containing [data-fulfilment-line] (hidden once the order can't ship: cancelled,
 * expired, or refunded in full before it shipped) with [data-fulfilment-status] and [data-fulfilment-words], [data-tracking] (shown
 * once shipped), [data-fulfilment-field=NAME] slots, [data-tracking-link] and the labels
 * [data-tracking-number-label] and [data-tracking-link-label].
 */
(function () {
  "use strict";

  var root = document.getElementById("order-fulfilment");
  if (!root) { return; }

  var statusUrl = root.dataset.statusUrl;
  var wsPath = root.dataset.wsPath;
  var accessKey = root.dataset.key || "";
  var DONE = { shipped: true, delivered: true, not_required: true };
  var WAITING_WORDS = " We are preparing your parcel; this page shows its tracking link as soon as it ships.";
  var state = { fulfilment: root.dataset.fulfilment, paid: root.dataset.paid === "true", ended: false };
  var socket = null;
  var socketTimer = null;
  var socketAttempts = 0;
  var pollTimer = null;
  var pollDelay = 2000;
  var listening = false;
  function field(name) { return root.querySelector('[data-fulfilment-field="' + name + '"]'); }

  function show(el, on) {
    if (!el) { return; }
    el.hidden = !on;
    var value = el.nextElementSibling;
    if (value) { value.hidden = !on; }
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : "";
  }

  function render(fulfilment, payload) {
    if (!fulfilment || !fulfilment.status) { return; }
    state.fulfilment = fulfilment.status;
    root.dataset.fulfilment = fulfilment.status;
    var status = root.querySelector("[data-fulfilment-status]");
    if (status && fulfilment.status_display) {
      status.textContent = fulfilment.status_display;
      status.className = "fulfilment-" + fulfilment.status;
    }
    var words = root.querySelector("[data-fulfilment-words]");
    if (words && fulfilment.status !== "unfulfilled") {
      words.textContent = "";
    } else if (words && payload && payload.paid && payload.status === "paid") {
      words.textContent = WAITING_WORDS;
    }
    var shipped = fulfilment.status === "shipped" || fulfilment.status === "delivered";
    var tracking = root.querySelector("[data-tracking]");
    if (tracking) { tracking.hidden = !shipped; }
    if (!shipped) { return; }
    var carrier = field("carrier");
    if (carrier) { carrier.textContent = fulfilment.carrier || ""; }
    var number = field("tracking_number");
    if (number) { number.textContent = fulfilment.tracking_number || ""; }
    show(root.querySelector("[data-tracking-number-label]"), Boolean(fulfilment.tracking_number));
    var link = root.querySelector("[data-tracking-link]");
    var url = safeUrl(fulfilment.tracking_url);
    if (link) { link.setAttribute("href", url || "#"); }
    show(root.querySelector("[data-tracking-link-label]"), Boolean(url));
    var when = field("shipped_at");
    if (when && fulfilment.shipped_at) {
      // The server writes the time as the page does ("6 Dec 2026, 06:32 UTC").
      when.setAttribute("datetime", fulfilment.shipped_at);
      when.textContent = fulfilment.shipped_at_display || fulfilment.shipped_at;
    }
  }

  function handle(payload) {
    if (!payload || typeof payload !== "object") { return; }
    // Answers may cross on the way: never go back to an older state of the order.
    if (payload.updated && state.updated && payload.updated < state.updated) { return; }
    if (payload.updated) { state.updated = payload.updated; }
    if (payload.fulfilment) { render(payload.fulfilment, payload); }
    if (payload.paid && payload.status === "paid") { state.paid = true; }
    var over = payload.status === "cancelled" || payload.status === "expired" || payload.refund_due ||
      (state.fulfilment === "unfulfilled" && payload.refund_state === "refunded");
    var line = root.querySelector("[data-fulfilment-line]");
    if (line && over) { line.hidden = true; }  // nothing will ship
    if (DONE[state.fulfilment] || over) {
      stop();
    } else if (state.paid) {
      listen();
    }
  }

  /* --- live status while a paid order waits to ship: WebSocket first, polling while down ---- */

  function withKey(url) {
    return url + (accessKey ? (url.indexOf("?") === -1 ? "?" : "&") + "key=" +
      encodeURIComponent(accessKey) : "");
  }

  function socketOpen() { return socket !== null && socket.readyState === WebSocket.OPEN; }

  function stop() {
    state.ended = true;
    clearTimeout(pollTimer);
    clearTimeout(socketTimer);
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
  }

  function poll() {
    if (state.ended || socketOpen()) { return; }
    fetch(withKey(statusUrl), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (payload) { if (payload) { handle(payload); } })
      .catch(function () { /* offline: try again later */ })
      .then(function () {
        pollDelay = Math.min(pollDelay * 1.5, document.hidden ? 60000 : 30000);
        schedulePoll();
      });
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (state.ended || socketOpen()) { return; }
    pollTimer = setTimeout(poll, pollDelay);
  }

  function connect() {
    if (state.ended) { return; }
    if (!("WebSocket" in window) || !wsPath) { schedulePoll(); return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + window.location.host + withKey(wsPath));
    } catch (e) {
      socket = null;
      schedulePoll();
      return;
    }
    socket.onopen = function () {
      socketAttempts = 0;
      pollDelay = 2000;
      clearTimeout(pollTimer);
    };
    socket.onmessage = function (event) {
      try { handle(JSON.parse(event.data)); } catch (e) { /* ignore a bad frame */ }
    };
    socket.onclose = function () {
      socket = null;
      if (state.ended) { return; }
      schedulePoll();
      socketAttempts += 1;
      socketTimer = setTimeout(connect, Math.min(1000 * Math.pow(2, socketAttempts), 60000));
    };
  }

  function listen() {
    if (listening || state.ended) { return; }
    listening = true;
    connect();
  }

  document.addEventListener("order:status", function (event) { handle(event.detail); });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && listening && !state.ended && !socketOpen()) {
      pollDelay = 2000;
      clearTimeout(pollTimer);
      poll();
    }
  });

  if (DONE[state.fulfilment]) {
    state.ended = true;
  } else if (state.paid) {
    listen();
  }
})();

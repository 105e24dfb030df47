/*
 * The order page's payment block: the banq widget, and live status over a WebSocket with a
 * polling fallback. The server is the only judge of "paid": the widget's onPaymentSuccess only
 * says "confirming...", and the page flips to the confirmation when the server says so (which
 * also covers the QR path, where the widget never hears of the payment).
 *
 * Contract with templates/orders/_payment.html: a #order-payment element with data-order-id,
 * data-status, data-paid, data-status-url, data-ws-path, data-link-url, data-csrf and data-key,
 * containing #pay-with-banq, [data-payment-message], [data-payment-error] (with
 * [data-payment-error-text]), [data-payment-retry], [data-field=NAME] slots filled from the status
 * payload, and [data-when="status ..."] elements shown only in those states.
 */
(function () {
  "use strict";

  var root = document.getElementById("order-payment");
  if (!root) { return; }

  var orderId = root.dataset.orderId;
  var statusUrl = root.dataset.statusUrl;
  var linkUrl = root.dataset.linkUrl;
  var wsPath = root.dataset.wsPath;
  var accessKey = root.dataset.key || "";
  var csrfToken = root.dataset.csrf || "";
  var message = root.querySelector("[data-payment-message]");
  var errorBox = root.querySelector("[data-payment-error]");
  var errorText = root.querySelector("[data-payment-error-text]");
  var retryButton = root.querySelector("[data-payment-retry]");

  var TERMINAL = { paid: true, cancelled: true, expired: true };
  var state = { status: root.dataset.status, paid: root.dataset.paid === "true" };
  var app = null;
  var socket = null;
  var socketAttempts = 0;
  var socketTimer = null;
  var pollTimer = null;
  var pollDelay = 2000;
  var confirming = false;
  var stopped = false;

  function say(text) {
    if (message) { message.textContent = text; }
  }

  function showError(text) {
    if (!errorBox) { return; }
    if (errorText) { errorText.textContent = text; } else { errorBox.textContent = text; }
    errorBox.hidden = !text;
  }

  // The rejected promise hands the message to the widget too; when the widget shows it in its
  // own box, one message on the page is enough. Otherwise the page shows it.
  function showErrorUnlessWidgetDoes(text) {
    setTimeout(function () {
      var widget = document.getElementById("pay-with-banq");
      if (!widget || widget.textContent.indexOf(text) === -1) { showError(text); }
    }, 100);
  }

  function fill(payload) {
    root.querySelectorAll("[data-field]").forEach(function (el) {
      var name = el.getAttribute("data-field");
      var value = payload[name];
      if (value === undefined || value === null || value === "") { return; }
      if (name === "paid_at") {
        var when = new Date(value);
        el.textContent = isNaN(when) ? value : when.toLocaleString();
        el.setAttribute("datetime", value);
      } else {
        el.textContent = value;
      }
    });
  }

  function render(payload) {
    if (!payload || !payload.status) { return; }
    var changed = payload.status !== state.status || Boolean(payload.paid) !== state.paid;
    state.status = payload.status;
    state.paid = Boolean(payload.paid);
    root.dataset.status = payload.status;
    root.dataset.paid = state.paid ? "true" : "false";
    fill(payload);
    // A paid order shows the confirmation whatever its status (paid after cancellation too).
    var shown = state.paid ? "paid" : payload.status;
    root.querySelectorAll("[data-when]").forEach(function (el) {
      el.hidden = el.getAttribute("data-when").split(/\s+/).indexOf(shown) === -1;
    });
    document.querySelectorAll("[data-order-status-text]").forEach(function (el) {
      if (payload.status_display) { el.textContent = payload.status_display; }
      el.setAttribute("data-status", payload.status);
      el.className = "status-" + payload.status;
    });
    if (state.paid) {
      confirming = false;
      // The confirmation box says it visibly; the live region still announces it.
      if (message) { message.classList.add("sr-only"); }
      if (changed) { say("Payment confirmed. Thank you!"); }
      showError("");
      if (app) { try { app.destroyWidget(); } catch (e) { /* already gone */ } app = null; }
    } else if (payload.status === "failed") {
      confirming = false;
      if (changed) { say("The payment did not go through. You can try again."); }
    } else if (payload.status === "expired") {
      if (changed) { say("This order has expired. Please place a new order."); }
    } else if (payload.status === "cancelled") {
      if (changed) { say("This order was cancelled."); }
    }
    if (TERMINAL[payload.status] || state.paid) {
      if (app) { try { app.destroyWidget(); } catch (e) { /* ignore */ } app = null; }
      stop();
    }
  }

  /* --- the widget ---------------------------------------------------------------------------- */

  function getPaymentInfo() {
    showError("");
    return fetch(linkUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken
      },
      body: JSON.stringify({ orderId: orderId })
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok || !data || !data.data || !data.data.url) {
          var text = (data && data.error && data.error.message) ||
            "The payment could not be started; nothing was charged. Please try again.";
          if (response.status === 409) { requestStatus(); }
          showErrorUnlessWidgetDoes(text);
          throw new Error(text);
        }
        return data.data.url;
      });
    }, function () {
      var text = "We could not reach the shop. Check your connection and try again.";
      showErrorUnlessWidgetDoes(text);
      throw new Error(text);
    });
  }

  function mountWidget() {
    if (app || state.paid || TERMINAL[state.status]) { return; }
    if (typeof window.ecommerceBanqWidget !== "function") {
      showError("The banq payment button could not be loaded. Reload the page to try again.");
      return;
    }
    app = new window.ecommerceBanqWidget({
      selector: "#pay-with-banq",
      getPaymentInfo: getPaymentInfo,
      onPopUpClose: function () {
        if (!state.paid && !confirming) { say(""); }
      },
      onPaymentSuccess: function () {
        confirming = true;
        say("Payment received, confirming...");
        requestStatus();
        pollDelay = 1000;
        schedulePoll();
      }
    });
    app.bootstrapApp();
  }

  if (retryButton) {
    retryButton.addEventListener("click", function () {
      showError("");
      if (app) { try { app.destroyWidget(); } catch (e) { /* ignore */ } app = null; }
      mountWidget();
    });
  }

  /* --- live status: WebSocket first, polling while it is down ------------------------------ */

  function stop() {
    stopped = true;
    clearTimeout(pollTimer);
    clearTimeout(socketTimer);
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
  }

  function socketOpen() {
    return socket !== null && socket.readyState === WebSocket.OPEN;
  }

  function requestStatus() {
    if (socketOpen()) {
      socket.send(JSON.stringify({ type: "status" }));
      return;
    }
    poll(true);
  }

  function poll(once) {
    var url = statusUrl + (accessKey ? "?key=" + encodeURIComponent(accessKey) : "");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (payload) { if (payload) { render(payload); } })
      .catch(function () { /* offline: try again later */ })
      .then(function () {
        if (!once) {
          pollDelay = Math.min(pollDelay * 1.5, document.hidden ? 60000 : 30000);
          schedulePoll();
        }
      });
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (stopped || (socketOpen() && !confirming)) { return; }
    pollTimer = setTimeout(function () { poll(false); }, pollDelay);
  }

  function connect() {
    if (stopped) { return; }
    if (!("WebSocket" in window)) { schedulePoll(); return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + wsPath +
      (accessKey ? "?key=" + encodeURIComponent(accessKey) : "");
    try {
      socket = new WebSocket(url);
    } catch (e) {
      socket = null;
      schedulePoll();
      return;
    }
    socket.onopen = function () {
      socketAttempts = 0;
      pollDelay = 2000;
      if (!confirming) { clearTimeout(pollTimer); }
    };
    socket.onmessage = function (event) {
      try { render(JSON.parse(event.data)); } catch (e) { /* ignore a bad frame */ }
    };
    socket.onclose = function () {
      socket = null;
      if (stopped) { return; }
      // Poll meanwhile, and try the socket again with a growing delay.
      schedulePoll();
      socketAttempts += 1;
      socketTimer = setTimeout(connect, Math.min(1000 * Math.pow(2, socketAttempts), 60000));
    };
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !stopped && !socketOpen()) {
      pollDelay = 2000;
      requestStatus();
    }
  });

  render({ status: state.status, paid: state.paid });
  if (!stopped) {
    mountWidget();
    connect();
  }
})();

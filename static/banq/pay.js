/*
 * The order page's payment block: the banq widget, and live status over a WebSocket with a
 * polling fallback. The server is the only judge of "paid": when the widget reports success, the
 * page asks the server to confirm with banq (POST .../confirm, again a few times with backoff),
 * and flips to the confirmation only when the server says so. That also covers the QR path, where
 * the widget never hears of the payment: the server finds out (webhook, or its own checks with
 * banq) and pushes the change.
 *
 * Contract with templates/orders/_payment.html: a #order-payment element with data-order-id,
 * data-status, data-paid, data-states, data-status-url, data-ws-path, data-link-url,
 * data-confirm-url (with __order__ for the order id), data-csrf and data-key, containing
 * #pay-with-banq, [data-payment-message], [data-link-waiting], [data-confirm-slow],
 * [data-payment-error] (with [data-payment-error-text]), [data-payment-retry], [data-field=NAME]
 * slots filled from the status payload, [data-when="word ..."] blocks shown while the
 * payload's `states` hold one of those words, and the focus targets #payment-confirmed (after
 * paying) and #payment-failed (after banq declined in its modal, which the page then closes).
 *
 * A recurring order's page also has #order-plan (templates/orders/_plan.html, with
 * data-plan-live, [data-plan-field=NAME] slots, the [data-installments] list,
 * [data-installments-empty] and the [data-plan-announce] live region), kept current from the
 * payload's `plan` and `installments`. While the plan is live (installments still expected) the
 * page keeps listening after the order is paid.
 */
(function () {
  "use strict";

  // The order's link (order_detail.html) is selected whole when clicked or focused, ready to copy.
  document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
    input.addEventListener("click", function () { input.select(); });
  });

  var root = document.getElementById("order-payment");
  if (!root) { return; }

  var orderId = root.dataset.orderId;
  var statusUrl = root.dataset.statusUrl;
  var linkUrl = root.dataset.linkUrl;
  var confirmUrl = (root.dataset.confirmUrl || "").replace("__order__", orderId);
  var wsPath = root.dataset.wsPath;
  var accessKey = root.dataset.key || "";
  var csrfToken = root.dataset.csrf || "";
  var message = root.querySelector("[data-payment-message]");
  var waiting = root.querySelector("[data-link-waiting]");
  var confirmSlow = root.querySelector("[data-confirm-slow]");
  var errorBox = root.querySelector("[data-payment-error]");
  var errorText = root.querySelector("[data-payment-error-text]");
  var retryButton = root.querySelector("[data-payment-retry]");
  var planBox = document.getElementById("order-plan");
  var planLive = Boolean(planBox && planBox.dataset.planLive === "true");

  // Delays (ms) between the page's requests to confirm a payment the widget reported.
  var CONFIRM_DELAYS = [1000, 2000, 4000, 8000, 15000, 30000, 60000];
  var TERMINAL = { paid: true, refund_due: true, cancelled: true, expired: true };
  var state = {
    status: root.dataset.status,
    paid: root.dataset.paid === "true",
    states: (root.dataset.states || root.dataset.status).split(/\s+/)
  };
  var app = null;
  var socket = null;
  var socketAttempts = 0;
  var socketTimer = null;
  var pollTimer = null;
  var pollDelay = 2000;
  var confirmTimer = null;
  var confirmRound = 0;
  var stopped = false;
  var modalOpen = false; // banq's modal shows a payment page (getPaymentInfo gave it a link)

  function say(text) {
    if (message) { message.textContent = text; }
  }

  function showError(text) {
    if (!errorBox) { return; }
    if (errorText) { errorText.textContent = text; } else { errorBox.textContent = text; }
    errorBox.hidden = !text;
  }

  function showWaiting(on) {
    if (waiting) { waiting.hidden = !on; }
    var pay = document.getElementById("pay-with-banq");
    if (pay) { pay.setAttribute("aria-busy", on ? "true" : "false"); }
  }

  // The rejected promise hands the message to the widget too; when the widget shows it in its
  // own box, one message on the page is enough. Otherwise the page shows it.
  function showErrorUnlessWidgetDoes(text) {
    setTimeout(function () {
      var widget = document.getElementById("pay-with-banq");
      if (!widget || widget.textContent.indexOf(text) === -1) { showError(text); }
    }, 100);
  }

  // Focus moves to an element of the payment block only when it would otherwise be lost: it was
  // on the page body, in this block (whose Pay button goes away) or in banq's modal.
  function focusIfLost(el) {
    var active = document.activeElement;
    if (!el || (active && active !== document.body && !root.contains(active) &&
        active.tagName !== "IFRAME" && active.isConnected)) { return; }
    el.focus();
  }

  function fill(payload) {
    root.querySelectorAll("[data-field]").forEach(function (el) {
      var name = el.getAttribute("data-field");
      var value = payload[name];
      if (value === undefined || value === null || value === "") { return; }
      if (name === "paid_at") {
        // The server writes the time as the page does ("6 Dec 2026, 06:32 UTC").
        el.setAttribute("datetime", value);
        el.textContent = payload.paid_at_display || value;
      } else {
        el.textContent = value;
      }
    });
  }

  function has(word) { return state.states.indexOf(word) !== -1; }

  // The plan block: its words, and the installments list rebuilt from the payload (text only).
  function renderPlan(plan, installments) {
    if (!planBox || !plan) { return; }
    planLive = Boolean(plan.live);
    planBox.dataset.planLive = planLive ? "true" : "false";
    planBox.querySelectorAll("[data-plan-field]").forEach(function (el) {
      var value = plan[el.getAttribute("data-plan-field")];
      el.textContent = value || "";
      el.hidden = !value;
    });
    var list = planBox.querySelector("[data-installments]");
    var empty = planBox.querySelector("[data-installments-empty]");
    var announce = planBox.querySelector("[data-plan-announce]");
    if (!list || !Array.isArray(installments)) { return; }
    var before = list.children.length;
    var items = installments.map(function (installment) {
      var item = document.createElement("li");
      item.className = "installment installment-" + installment.status;
      item.setAttribute("data-installment", String(installment.number));
      item.textContent = installment.text;
      return item;
    });
    var same = items.length === before && items.every(function (item, index) {
      return list.children[index].textContent === item.textContent;
    });
    if (!same) {
      list.replaceChildren.apply(list, items);
      if (announce && items.length > before) {
        announce.textContent = items[items.length - 1].textContent;
      }
    }
    if (empty) { empty.hidden = items.length > 0; }
  }

  function render(payload) {
    if (!payload || !payload.status) { return; }
    // Answers may cross on the way (a confirm's answer, a poll, a push): like the server's
    // socket, the page never goes back to an older state of the order.
    if (payload.updated && state.updated && payload.updated < state.updated) { return; }
    if (payload.updated) { state.updated = payload.updated; }
    var before = state.states.join(" ");
    state.status = payload.status;
    state.paid = Boolean(payload.paid);
    state.states = payload.states || [payload.paid ? "paid" : payload.status];
    var changed = state.states.join(" ") !== before;
    root.dataset.status = payload.status;
    root.dataset.paid = state.paid ? "true" : "false";
    root.dataset.states = state.states.join(" ");
    fill(payload);
    // Other blocks of the order page (its delivery: order-fulfilment.js) hear every status.
    document.dispatchEvent(new CustomEvent("order:status", { detail: payload }));
    if (payload.plan) { renderPlan(payload.plan, payload.installments); }
    root.querySelectorAll("[data-when]").forEach(function (el) {
      var words = el.getAttribute("data-when").split(/\s+/);
      el.hidden = !words.some(has);
    });
    document.querySelectorAll("[data-order-status-text]").forEach(function (el) {
      if (payload.status_display) { el.textContent = payload.status_display; }
      el.setAttribute("data-status", payload.status);
      el.className = "status-" + (payload.refund_due ? "cancelled" : payload.status);
    });
    if (has("paid")) {
      // The confirmation box says it visibly; the live region still announces it.
      if (message) { message.classList.add("sr-only"); }
      if (changed) { say("Payment confirmed. Thank you!"); }
    } else if (has("refund_due")) {
      if (changed) { say("This order was cancelled; your payment will be refunded."); }
    } else if (payload.status === "failed") {
      if (changed) { say("The payment did not go through. You can try again."); }
      // banq declined inside its modal: close it, so the shopper reads why here and can retry.
      if (changed && modalOpen && app) {
        modalOpen = false;
        try { app.destroyWidget(); } catch (e) { /* already gone */ }
        app = null;
        mountWidget();
        focusIfLost(document.getElementById("payment-failed"));
      }
    } else if (payload.status === "expired") {
      if (changed) { say("This order has expired. Please place a new order."); }
    } else if (payload.status === "cancelled") {
      if (changed) { say("This order was cancelled."); }
    } else if (has("confirming")) {
      if (changed) { say(""); }
    }
    if (!has("confirming")) { clearTimeout(confirmTimer); }
    if (has("paid") || has("refund_due") || TERMINAL[payload.status]) {
      showError("");
      showWaiting(false);
      if (app) { try { app.destroyWidget(); } catch (e) { /* already gone */ } app = null; }
      modalOpen = false;
      if (changed && has("paid")) { focusIfLost(document.getElementById("payment-confirmed")); }
      // A live plan's installments still arrive over the same socket (or polling).
      if (!planLive) { stop(); }
    }
  }

  function withKey(url) {
    return url + (accessKey ? (url.indexOf("?") === -1 ? "?" : "&") + "key=" +
      encodeURIComponent(accessKey) : "");
  }

  /* --- confirming what the widget reported --------------------------------------------------- */

  function confirmWithServer() {
    clearTimeout(confirmTimer);
    if (stopped || !confirmUrl) { return; }
    fetch(withKey(confirmUrl), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken }
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (payload) { if (payload) { render(payload); } })
      .catch(function () { /* offline: try again later */ })
      .then(function () {
        if (stopped || has("paid") || !has("confirming")) { return; }
        if (confirmRound >= 3 && confirmSlow) { confirmSlow.hidden = false; }
        if (confirmRound < CONFIRM_DELAYS.length) {
          confirmTimer = setTimeout(confirmWithServer, CONFIRM_DELAYS[confirmRound]);
          confirmRound += 1;
        }
      });
  }

  /* --- the widget ---------------------------------------------------------------------------- */

  function getPaymentInfo() {
    showError("");
    showWaiting(true);
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
        showWaiting(false);
        if (!response.ok || !data || !data.data || !data.data.url) {
          var text = (data && data.error && data.error.message) ||
            "The payment could not be started; nothing was charged. Please try again.";
          if (response.status === 409) { requestStatus(); }
          showErrorUnlessWidgetDoes(text);
          throw new Error(text);
        }
        modalOpen = true;
        return data.data.url;
      });
    }, function () {
      showWaiting(false);
      var text = "We could not reach the shop. Check your connection and try again.";
      showErrorUnlessWidgetDoes(text);
      throw new Error(text);
    });
  }

  function mountWidget() {
    if (app || !has("payable")) { return; }
    if (typeof window.ecommerceBanqWidget !== "function") {
      showError("The banq payment button could not be loaded. Reload the page to try again.");
      return;
    }
    app = new window.ecommerceBanqWidget({
      selector: "#pay-with-banq",
      getPaymentInfo: getPaymentInfo,
      onPopUpClose: function () {
        modalOpen = false;
        if (!state.paid && !has("confirming")) { say(""); }
      },
      onPaymentSuccess: function () {
        modalOpen = false;
        // The widget's word is not proof: ask the server to confirm it with banq.
        say("Payment received, confirming with banq…");
        if (state.states.indexOf("confirming") === -1) { state.states.push("confirming"); }
        confirmRound = 0;
        confirmWithServer();
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
    clearTimeout(confirmTimer);
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
    fetch(withKey(statusUrl), { credentials: "same-origin", headers: { "Accept": "application/json" } })
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
    if (stopped || socketOpen()) { return; }
    pollTimer = setTimeout(function () { poll(false); }, pollDelay);
  }

  function connect() {
    if (stopped) { return; }
    if (!("WebSocket" in window)) { schedulePoll(); return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + withKey(wsPath);
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
      clearTimeout(pollTimer);
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

  render({ status: state.status, paid: state.paid, states: state.states });
  if (!stopped) {
    mountWidget();
    connect();
    // Back on the page after the widget said "paid" (a reload): keep asking banq a few times.
    if (has("confirming")) { confirmWithServer(); }
  }
})();

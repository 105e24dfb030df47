/*
 * banq emulator: ecommerce.js, the script widget of banq's dynamic-integration guide.
 *
 *   const app = new window.ecommerceBanqWidget({selector, getPaymentInfo, onPopUpClose, onPaymentSuccess});
 *   app.bootstrapApp();   // renders a "Pay with banq" button into `selector`
 *   app.destroyWidget();  // removes the button and any open modal
 *
 * The click awaits getPaymentInfo() (a Promise of the payment link URL); meanwhile the button reads
 * "Contacting banq…" (aria-busy, announced by a status region), and a rejection shows its message.
 * Then banq's widget page opens in a modal overlay, as banq's <checkout-widget-dialog> does: an
 * iframe of `/widget/?origin=&windowWidth=&windowHeight=&paymentLink=` and nothing else, so the
 * only close control is the framed page's own Close (banq's dialog has no close button of its
 * own), and the page sizes its iframe with `styles` messages (no empty band under a short page).
 * The dialog is modal for the keyboard: focus moves into it, Tab and Shift-Tab stay in it (the
 * framed page goes round its own controls; a Tab that leaves the frame is sent back into it), the
 * rest of the page is inert, Escape closes it (the framed page forwards its own Escape as a
 * `close` message), and focus returns to the Pay button afterwards.
 * Messages {type, payload} are accepted only from this script's own origin and the modal's frame:
 * styles -> assigned to the iframe's size; successPayment -> the modal closes and
 * onPaymentSuccess(payload) runs; close -> the modal closes and onPopUpClose() runs. Only
 * window.ecommerceBanqWidget is exposed.
 */
(function () {
  "use strict";

  var currentScript = document.currentScript;
  var EMULATOR_ORIGIN = new URL(
    currentScript && currentScript.src ? currentScript.src : window.location.href
  ).origin;
  var STYLE_ID = "banq-emulator-widget-style";
  var LABEL = "Pay with banq";
  var BUSY_LABEL = "Contacting banq\u2026";
  var CSS = [
    ".banq-widget{font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}",
    ".banq-widget__button{padding:10px 18px;border:0;border-radius:8px;background:#1f5eff;",
    "color:#fff;font:inherit;font-weight:600;cursor:pointer}",
    ".banq-widget__button[aria-disabled='true']{background:#4f6fb8;cursor:progress}",
    ".banq-widget__button:focus-visible{outline:3px solid #1f5eff;",
    "outline-offset:2px}",
    ".banq-widget__error{color:#b3261e;margin:6px 0 0}",
    ".banq-widget__sr{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;",
    "clip:rect(0,0,0,0);white-space:nowrap;border:0}",
    ".banq-widget__overlay{position:fixed;inset:0;background:rgba(10,20,40,.55);z-index:2147483000;",
    "display:flex;align-items:center;justify-content:center;padding:8px;box-sizing:border-box}",
    ".banq-widget__dialog{display:flex;flex-direction:column;max-width:100%;max-height:100%;",
    "background:#f4f6fb;border-radius:12px;overflow:hidden;box-shadow:0 10px 40px rgba(0,0,0,.3)}",
    ".banq-widget__dialog:focus{outline:none}",
    // Until the page's first `styles` message: the web component's first default size.
    ".banq-widget__frame{flex:0 1 auto;display:block;border:0;width:841px;height:494px;",
    "max-width:100%;max-height:100%;min-height:0}"
  ].join("");

  function injectStyle() {
    if (document.getElementById(STYLE_ID)) return;
    var style = document.createElement("style");
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  function isHttpUrl(value) {
    if (typeof value !== "string" || !value) return false;
    try {
      var url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:";
    } catch (err) {
      return false;
    }
  }

  function safeCall(fn, arg) {
    if (typeof fn !== "function") return;
    try {
      fn(arg);
    } catch (err) {
      // The integrator's callback failed; the widget keeps working.
      console.error("ecommerceBanqWidget callback failed", err);
    }
  }

  function EcommerceBanqWidget(options) {
    if (!(this instanceof EcommerceBanqWidget)) {
      throw new TypeError("use: new window.ecommerceBanqWidget(options)");
    }
    options = options || {};
    this.selector = options.selector;
    this.getPaymentInfo = options.getPaymentInfo;
    this.onPopUpClose = options.onPopUpClose;
    this.onPaymentSuccess = options.onPaymentSuccess;
    this._root = null;
    this._button = null;
    this._status = null;
    this._error = null;
    this._overlay = null;
    this._dialog = null;
    this._iframe = null;
    this._opener = null;
    this._inerted = [];
    this._busy = false;
    this._onMessage = this._onMessage.bind(this);
    this._onKey = this._onKey.bind(this);
    this._onFocusIn = this._onFocusIn.bind(this);
  }

  EcommerceBanqWidget.prototype.bootstrapApp = function () {
    var container = typeof this.selector === "string" ? document.querySelector(this.selector) : null;
    if (!container) {
      throw new Error("ecommerceBanqWidget: no element matches selector " + this.selector);
    }
    this.destroyWidget();
    injectStyle();
    var root = document.createElement("div");
    root.className = "banq-widget";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "banq-widget__button";
    button.textContent = LABEL;
    var status = document.createElement("p");
    status.className = "banq-widget__sr";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var error = document.createElement("p");
    error.className = "banq-widget__error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    var self = this;
    button.addEventListener("click", function () {
      if (!self._busy) self._start();
    });
    root.appendChild(button);
    root.appendChild(status);
    root.appendChild(error);
    container.appendChild(root);
    this._root = root;
    this._button = button;
    this._status = status;
    this._error = error;
    window.addEventListener("message", this._onMessage);
  };

  EcommerceBanqWidget.prototype.destroyWidget = function () {
    this._closeModal(false);
    window.removeEventListener("message", this._onMessage);
    if (this._root && this._root.parentNode) this._root.parentNode.removeChild(this._root);
    this._root = this._button = this._status = this._error = null;
    this._busy = false;
  };

  EcommerceBanqWidget.prototype._setError = function (message) {
    if (!this._error) return;
    this._error.textContent = message || "";
    this._error.hidden = !message;
  };

  // Busy while getPaymentInfo() is pending: the label says so, aria-busy is set and the status
  // region announces it. The button stays focusable (aria-disabled, not disabled), so focus is
  // not lost to the page body.
  EcommerceBanqWidget.prototype._setBusy = function (busy) {
    this._busy = busy;
    if (!this._button) return;
    this._button.textContent = busy ? BUSY_LABEL : LABEL;
    if (busy) {
      this._button.setAttribute("aria-busy", "true");
      this._button.setAttribute("aria-disabled", "true");
    } else {
      this._button.removeAttribute("aria-busy");
      this._button.removeAttribute("aria-disabled");
    }
    if (this._root) this._root.setAttribute("aria-busy", busy ? "true" : "false");
    if (this._status) this._status.textContent = busy ? BUSY_LABEL : "";
  };

  EcommerceBanqWidget.prototype._start = function () {
    var self = this;
    self._opener = document.activeElement;
    self._setError("");
    self._setBusy(true);
    Promise.resolve()
      .then(function () {
        if (typeof self.getPaymentInfo !== "function") {
          throw new Error("getPaymentInfo is not a function");
        }
        return self.getPaymentInfo();
      })
      .then(
        function (link) {
          if (!self._button) return; // destroyed while waiting
          if (!isHttpUrl(link)) {
            self._fail("The payment could not be started: no payment link was returned.");
            return;
          }
          self._open(link);
        },
        function (err) {
          var message = err && err.message ? err.message : String(err || "");
          self._fail(message || "The payment could not be started.");
        }
      );
  };

  EcommerceBanqWidget.prototype._fail = function (message) {
    this._setError(message);
    this._setBusy(false);
  };

  // The iframe's page: banq's widget app, given the link and this page's origin and window size,
  // as the <checkout-widget> web component frames it.
  function widgetPageUrl(link) {
    var query = [
      ["origin", window.location.origin],
      ["windowWidth", String(window.innerWidth)],
      ["windowHeight", String(window.innerHeight)],
      ["paymentLink", link]
    ].map(function (pair) {
      return pair[0] + "=" + encodeURIComponent(pair[1]);
    });
    return EMULATOR_ORIGIN + "/widget/?" + query.join("&");
  }

  EcommerceBanqWidget.prototype._open = function (link) {
    this._closeModal(false);
    this._setBusy(false);
    var overlay = document.createElement("div");
    overlay.className = "banq-widget__overlay";
    var dialog = document.createElement("div");
    dialog.className = "banq-widget__dialog";
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-label", LABEL);
    dialog.tabIndex = -1;
    var iframe = document.createElement("iframe");
    iframe.className = "banq-widget__frame";
    iframe.title = "Banq Checkout Widget";
    iframe.src = widgetPageUrl(link);
    // A Tab or Shift-Tab that leaves the framed page lands on one of these and goes back into it.
    dialog.appendChild(this._edge(iframe));
    dialog.appendChild(iframe);
    dialog.appendChild(this._edge(iframe));
    overlay.appendChild(dialog);
    document.body.appendChild(overlay);
    this._inert(overlay);
    document.addEventListener("keydown", this._onKey, true);
    document.addEventListener("focusin", this._onFocusIn);
    this._overlay = overlay;
    this._dialog = dialog;
    this._iframe = iframe;
    // Focus goes into the dialog's page: the first Tab reaches its first control.
    iframe.focus();
  };

  EcommerceBanqWidget.prototype._edge = function (iframe) {
    var edge = document.createElement("span");
    edge.tabIndex = 0;
    edge.className = "banq-widget__sr";
    edge.addEventListener("focus", function () {
      iframe.focus();
    });
    return edge;
  };

  // The framed page's `styles`: its size, within the screen (the overlay's padding included).
  var STYLE_KEYS = ["width", "height", "minWidth", "minHeight", "maxWidth", "maxHeight"];
  EcommerceBanqWidget.prototype._applyStyles = function (styles) {
    if (!this._iframe || !styles || typeof styles !== "object") return;
    for (var i = 0; i < STYLE_KEYS.length; i++) {
      var value = styles[STYLE_KEYS[i]];
      if (typeof value === "string" && /^[0-9.]+(px|%|vh|vw)$/.test(value)) {
        this._iframe.style[STYLE_KEYS[i]] = value;
      }
    }
  };

  // Everything beside the overlay becomes inert while the dialog is open: no Tab stop, no click.
  EcommerceBanqWidget.prototype._inert = function (overlay) {
    var children = document.body.children;
    for (var i = 0; i < children.length; i++) {
      var el = children[i];
      if (el === overlay || el.inert || el.tagName === "SCRIPT" || el.tagName === "STYLE") continue;
      el.inert = true;
      this._inerted.push(el);
    }
  };

  EcommerceBanqWidget.prototype._closeModal = function (restoreFocus) {
    document.removeEventListener("keydown", this._onKey, true);
    document.removeEventListener("focusin", this._onFocusIn);
    var wasOpen = !!this._overlay;
    for (var i = 0; i < this._inerted.length; i++) this._inerted[i].inert = false;
    this._inerted = [];
    if (this._overlay && this._overlay.parentNode) {
      this._overlay.parentNode.removeChild(this._overlay);
    }
    this._overlay = this._dialog = this._iframe = null;
    this._setBusy(false);
    if (wasOpen && restoreFocus) {
      var target =
        this._button && this._button.isConnected
          ? this._button
          : this._opener && this._opener.isConnected
            ? this._opener
            : null;
      if (target && typeof target.focus === "function") target.focus();
    }
    this._opener = null;
  };

  EcommerceBanqWidget.prototype._onKey = function (event) {
    if (!this._overlay) return;
    if (event.key === "Escape" || event.key === "Esc") {
      event.preventDefault();
      this._closeModal(true);
      safeCall(this.onPopUpClose);
      return;
    }
    if (event.key === "Tab" && document.activeElement === this._dialog) {
      event.preventDefault(); // into the payment page
      this._iframe.focus();
    }
  };

  EcommerceBanqWidget.prototype._onFocusIn = function (event) {
    if (this._overlay && !this._overlay.contains(event.target)) this._dialog.focus();
  };

  EcommerceBanqWidget.prototype._onMessage = function (event) {
    // Unlike the public widget package, only the emulator's own pages may talk to us.
    if (event.origin !== EMULATOR_ORIGIN) return;
    if (this._iframe && event.source !== this._iframe.contentWindow) return;
    var data = event.data;
    if (!data || typeof data !== "object" || typeof data.type !== "string") return;
    if (data.type === "styles") {
      this._applyStyles(data.payload);
    } else if (data.type === "successPayment") {
      this._closeModal(true);
      safeCall(this.onPaymentSuccess, data.payload);
    } else if (data.type === "close") {
      if (!this._overlay) return;
      this._closeModal(true);
      safeCall(this.onPopUpClose);
    }
  };

  window.ecommerceBanqWidget = EcommerceBanqWidget;
})();

/*
 * banq emulator: ecommerce.js, the script widget of banq's dynamic-integration guide.
 *
 *   const app = new window.ecommerceBanqWidget({selector, getPaymentInfo, onPopUpClose, onPaymentSuccess});
 *   app.bootstrapApp();   // renders a "Pay with banq" button into `selector`
 *   app.destroyWidget();  // removes the button and any open modal
 *
 * The click awaits getPaymentInfo() (a Promise of the payment link URL) and opens the hosted payment
 * page in a modal iframe (link + "?origin=" + the host page's origin). Messages {type, payload} are
 * accepted only from this script's own origin: successPayment -> onPaymentSuccess(payload) and the
 * modal closes; close -> the modal closes and onPopUpClose() runs. Only window.ecommerceBanqWidget
 * is exposed.
 */
(function () {
  "use strict";

  var currentScript = document.currentScript;
  var EMULATOR_ORIGIN = new URL(
    currentScript && currentScript.src ? currentScript.src : window.location.href
  ).origin;
  var STYLE_ID = "banq-emulator-widget-style";
  var CSS = [
    ".banq-widget{font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}",
    ".banq-widget__button{padding:10px 18px;border:0;border-radius:8px;background:#1f5eff;",
    "color:#fff;font:inherit;font-weight:600;cursor:pointer}",
    ".banq-widget__button:disabled{opacity:.6;cursor:progress}",
    ".banq-widget__error{color:#c62828;margin:6px 0 0}",
    ".banq-widget__overlay{position:fixed;inset:0;background:rgba(10,20,40,.55);z-index:2147483000;",
    "display:flex;align-items:center;justify-content:center}",
    ".banq-widget__dialog{position:relative;background:#fff;border-radius:12px;width:min(900px,96vw);",
    "height:min(640px,92vh);box-shadow:0 10px 40px rgba(0,0,0,.3)}",
    ".banq-widget__frame{border:0;width:100%;height:100%;border-radius:12px}",
    ".banq-widget__close{position:absolute;top:-14px;right:-14px;width:32px;height:32px;",
    "border-radius:50%;border:0;background:#fff;box-shadow:0 1px 4px rgba(0,0,0,.3);",
    "color:#17212b;padding:0;font-size:20px;line-height:32px;cursor:pointer}"
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
    this._error = null;
    this._overlay = null;
    this._iframe = null;
    this._onMessage = this._onMessage.bind(this);
    this._onKey = this._onKey.bind(this);
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
    button.textContent = "Pay with banq";
    var error = document.createElement("p");
    error.className = "banq-widget__error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    var self = this;
    button.addEventListener("click", function () {
      self._start();
    });
    root.appendChild(button);
    root.appendChild(error);
    container.appendChild(root);
    this._root = root;
    this._button = button;
    this._error = error;
    window.addEventListener("message", this._onMessage);
  };

  EcommerceBanqWidget.prototype.destroyWidget = function () {
    this._closeModal();
    window.removeEventListener("message", this._onMessage);
    if (this._root && this._root.parentNode) this._root.parentNode.removeChild(this._root);
    this._root = this._button = this._error = null;
  };

  EcommerceBanqWidget.prototype._setError = function (message) {
    if (!this._error) return;
    this._error.textContent = message || "";
    this._error.hidden = !message;
  };

  EcommerceBanqWidget.prototype._setBusy = function (busy) {
    if (!this._button) return;
    this._button.disabled = busy;
    if (busy) this._button.setAttribute("aria-busy", "true");
    else this._button.removeAttribute("aria-busy");
  };

  EcommerceBanqWidget.prototype._start = function () {
    var self = this;
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

  EcommerceBanqWidget.prototype._open = function (link) {
    this._closeModal();
    var self = this;
    var overlay = document.createElement("div");
    overlay.className = "banq-widget__overlay";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "Pay with banq");
    var dialog = document.createElement("div");
    dialog.className = "banq-widget__dialog";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "banq-widget__close";
    close.setAttribute("aria-label", "Close");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () {
      self._closeModal();
      safeCall(self.onPopUpClose);
    });
    var iframe = document.createElement("iframe");
    iframe.className = "banq-widget__frame";
    iframe.title = "Banq Checkout Widget";
    iframe.src =
      link + (link.indexOf("?") === -1 ? "?" : "&") + "origin=" +
      encodeURIComponent(window.location.origin);
    dialog.appendChild(close);
    dialog.appendChild(iframe);
    overlay.appendChild(dialog);
    document.body.appendChild(overlay);
    document.addEventListener("keydown", this._onKey);
    this._overlay = overlay;
    this._iframe = iframe;
  };

  EcommerceBanqWidget.prototype._closeModal = function () {
    document.removeEventListener("keydown", this._onKey);
    if (this._overlay && this._overlay.parentNode) {
      this._overlay.parentNode.removeChild(this._overlay);
    }
    this._overlay = this._iframe = null;
    this._setBusy(false);
  };

  EcommerceBanqWidget.prototype._onKey = function (event) {
    if (event.key === "Escape" && this._overlay) {
      this._closeModal();
      safeCall(this.onPopUpClose);
    }
  };

  EcommerceBanqWidget.prototype._onMessage = function (event) {
    // Unlike the public widget package, only the emulator's own pages may talk to us.
    if (event.origin !== EMULATOR_ORIGIN) return;
    if (this._iframe && event.source !== this._iframe.contentWindow) return;
    var data = event.data;
    if (!data || typeof data !== "object" || typeof data.type !== "string") return;
    if (data.type === "successPayment") {
      this._closeModal();
      safeCall(this.onPaymentSuccess, data.payload);
    } else if (data.type === "close") {
      if (!this._overlay) return;
      this._closeModal();
      safeCall(this.onPopUpClose);
    }
  };

  window.ecommerceBanqWidget = EcommerceBanqWidget;
})();

/*
 * A fake Stripe.js for tests against localstripe_plus.py, served at /js.stripe.com/v3/.
 *
 * It implements the part of Stripe.js that Paylink's hosted page uses, as Stripe documents it
 * (https://docs.stripe.com/js): Stripe(publishableKey), stripe.elements({clientSecret,
 * appearance}), elements.create('payment', options), element.mount/on/unmount/destroy and
 * stripe.confirmPayment({elements, redirect, confirmParams}). The Payment Element here is
 * three plain inputs in the page (no iframe), ids ls-card-number, ls-card-expiry and
 * ls-card-cvc, so tests can type into them. A card needing 3D Secure opens a dialog with
 * #localstripe-3ds-complete and #localstripe-3ds-fail.
 */
(function () {
  'use strict';

  // The wrapper's address: where this script was loaded from (as localstripe-v3.js does).
  const BASE = (function () {
    const src = document.currentScript.src;
    if (/\/js\.stripe\.com\/v3\/?$/.test(src)) {
      return src.replace(/\/js\.stripe\.com\/v3\/?$/, '');
    }
    return src.match(/https?:\/\/[^/]*/)[0];
  })();

  // A JSON POST without a Content-Type of its own (text/plain): a "simple" cross-origin
  // request, no preflight. The wrapper reads the body as JSON whatever its type.
  async function post(path, body) {
    let response;
    try {
      response = await fetch(BASE + path, {
        method: 'POST',
        body: JSON.stringify(body),
      });
    } catch (e) {
      return {status: 0, body: {error: {type: 'api_connection_error',
        message: 'localstripe: could not reach ' + BASE + ': ' + e}}};
    }
    const json = await response.json().catch(() => ({}));
    return {status: response.status, body: json};
  }

  // Stripe's error shape: type, code, decline_code, message (and payment_intent when known).
  function toError(status, body, fallbackType) {
    const e = (body && body.error) || {};
    const error = {
      type: e.type && e.type !== 'invalid_request_error' ? e.type
        : (status === 402 ? 'card_error' : (e.type || fallbackType || 'api_error')),
      message: e.message || 'An unexpected error occurred.',
    };
    for (const k of ['code', 'decline_code', 'param', 'doc_url', 'charge',
                     'payment_intent', 'payment_method']) {
      if (e[k] !== undefined && e[k] !== null) error[k] = e[k];
    }
    return error;
  }

  let uid = 0;

  // Text and borders dark enough for WCAG AA (4.5:1 and more on white).
  const STYLE = `
.ls-payment-element { font: inherit; color: #1a1a1a; }
.ls-payment-element .ls-field { display: block; margin: 0 0 .75em; }
.ls-payment-element label { display: block; margin: 0 0 .25em; color: #1a1a1a; }
.ls-payment-element input { font: inherit; color: #1a1a1a; background: #fff;
  border: 1px solid #595959; border-radius: 4px; padding: .5em; width: 100%;
  max-width: 22em; box-sizing: border-box; }
.ls-payment-element .ls-row { display: flex; gap: 1em; flex-wrap: wrap; }
.ls-payment-element .ls-note { font-size: .875em; color: #4d4d4d; margin: 0; }
.ls-3ds-backdrop { position: fixed; inset: 0; background: rgba(0,0,0,.5);
  display: flex; align-items: center; justify-content: center; z-index: 2147483647; }
.ls-3ds { background: #fff; color: #1a1a1a; padding: 1.5em; border-radius: 8px;
  max-width: 26em; font: 16px/1.4 system-ui, sans-serif; }
.ls-3ds h2 { margin: 0 0 .5em; font-size: 1.25em; }
.ls-3ds button { font: inherit; margin: .5em .5em 0 0; padding: .5em 1em;
  border-radius: 4px; border: 1px solid #1a1a1a; cursor: pointer; }
.ls-3ds #localstripe-3ds-complete { background: #0a5c36; color: #fff; }
.ls-3ds #localstripe-3ds-fail { background: #fff; color: #a00000; border-color: #a00000; }
`;

  function addStyle() {
    if (document.getElementById('ls-stripe-adapter-style')) return;
    const style = document.createElement('style');
    style.id = 'ls-stripe-adapter-style';
    style.textContent = STYLE;
    document.head.appendChild(style);
  }

  // "12/34", "1234", "12 / 34", "12/2034" -> {month, year} or null.
  function parseExpiry(text) {
    const t = String(text || '').replace(/\s+/g, '');
    let m = t.match(/^(\d{1,2})\/(\d{2}|\d{4})$/);
    if (!m) m = t.match(/^(\d{2})(\d{2})$/);
    if (!m) return null;
    const month = parseInt(m[1], 10);
    let year = parseInt(m[2], 10);
    if (year < 100) year += 2000;
    if (month < 1 || month > 12) return null;
    return {month, year};
  }

  class PaymentElement {
    constructor(elements, options) {
      this._elements = elements;
      this._options = options || {};
      this._listeners = {};
      this._root = null;
      this._destroyed = false;
    }

    on(event, handler) {
      (this._listeners[event] = this._listeners[event] || []).push(handler);
      if (event === 'ready' && this._readyFired) setTimeout(() => handler({elementType: 'payment'}), 0);
      return this;
    }

    off(event, handler) {
      const list = this._listeners[event] || [];
      this._listeners[event] = handler ? list.filter(h => h !== handler) : [];
      return this;
    }

    _emit(event, payload) {
      for (const h of this._listeners[event] || []) {
        try { h(payload); } catch (e) { console.error(e); }
      }
    }

    mount(target) {
      if (this._destroyed) {
        throw new Error('This Element has already been destroyed. Please create a new one.');
      }
      const el = typeof target === 'string' ? document.querySelector(target) : target;
      if (!(el instanceof window.Element)) {
        throw new Error('Invalid DOM element. Make sure to call mount() with a valid DOM ' +
                        'element or selector.');
      }
      if (this._root) {
        throw new Error('This Element is already mounted. Use `unmount()` to unmount the ' +
                        'Element before re-mounting.');
      }
      addStyle();
      const n = ++uid;
      const suffix = n === 1 ? '' : '-' + n; // the first element keeps the documented ids
      const root = document.createElement('div');
      root.className = 'ls-payment-element';
      root.innerHTML = `
<div class="ls-field">
  <label for="ls-card-number${suffix}">Card number</label>
  <input id="ls-card-number${suffix}" name="ls-card-number" type="text" inputmode="numeric"
         autocomplete="cc-number" placeholder="1234 1234 1234 1234" spellcheck="false">
</div>
<div class="ls-row">
  <div class="ls-field">
    <label for="ls-card-expiry${suffix}">Expiration date (MM/YY)</label>
    <input id="ls-card-expiry${suffix}" name="ls-card-expiry" type="text" inputmode="numeric"
           autocomplete="cc-exp" placeholder="MM / YY" spellcheck="false">
  </div>
  <div class="ls-field">
    <label for="ls-card-cvc${suffix}">Security code (CVC)</label>
    <input id="ls-card-cvc${suffix}" name="ls-card-cvc" type="text" inputmode="numeric"
           autocomplete="cc-csc" placeholder="CVC" spellcheck="false">
  </div>
</div>
<p class="ls-note">Test card form (localstripe)</p>`;
      el.appendChild(root);
      this._root = root;
      this._container = el;
      this._inputs = {
        number: root.querySelector('[name="ls-card-number"]'),
        expiry: root.querySelector('[name="ls-card-expiry"]'),
        cvc: root.querySelector('[name="ls-card-cvc"]'),
      };
      for (const input of Object.values(this._inputs)) {
        input.addEventListener('input', () => this._emit('change', this._state()));
        input.addEventListener('focus', () => this._emit('focus', {elementType: 'payment'}));
        input.addEventListener('blur', () => this._emit('blur', {elementType: 'payment'}));
      }
      this._elements._mounted = this;
      setTimeout(() => {
        this._readyFired = true;
        this._emit('ready', {elementType: 'payment'});
      }, 0);
      return this;
    }

    _card() {
      const number = this._inputs.number.value.replace(/[\s-]/g, '');
      const exp = parseExpiry(this._inputs.expiry.value);
      const cvc = this._inputs.cvc.value.trim();
      return {number, exp, cvc};
    }

    _state() {
      const {number, exp, cvc} = this._card();
      const empty = !number && !this._inputs.expiry.value.trim() && !cvc;
      const complete = /^\d{13,19}$/.test(number) && exp !== null && /^\d{3,4}$/.test(cvc);
      return {elementType: 'payment', empty, complete,
              value: {type: 'card'}};
    }

    focus() { if (this._inputs) this._inputs.number.focus(); }
    blur() { if (document.activeElement) document.activeElement.blur(); }
    clear() {
      if (!this._inputs) return;
      for (const input of Object.values(this._inputs)) input.value = '';
      this._emit('change', this._state());
    }
    update() {}
    collapse() {}

    unmount() {
      if (this._root) {
        this._root.remove();
        this._root = null;
        this._inputs = null;
      }
    }

    destroy() {
      this.unmount();
      this._destroyed = true;
      if (this._elements._mounted === this) this._elements._mounted = null;
      if (this._elements._payment === this) this._elements._payment = null;
    }
  }

  class Elements {
    constructor(stripe, options) {
      this._stripe = stripe;
      this._options = options || {};
      this._payment = null;
      this._mounted = null;
    }

    create(type, options) {
      if (type !== 'payment') {
        throw new Error(`localstripe: only the 'payment' Element is implemented, not '${type}'.`);
      }
      if (this._payment) {
        throw new Error('Can only create one Element of type payment.');
      }
      this._payment = new PaymentElement(this, options);
      return this._payment;
    }

    getElement(type) {
      return type === 'payment' ? this._payment : null;
    }

    update(options) { Object.assign(this._options, options || {}); }

    async submit() {
      const v = this._validate();
      return v ? {error: v} : {};
    }

    _validate() {
      const el = this._payment;
      if (!el || !el._inputs) {
        return {type: 'validation_error', message: 'The Payment Element is not mounted.'};
      }
      const {number, exp, cvc} = el._card();
      if (!number) return {type: 'validation_error', code: 'incomplete_number', message: 'Your card number is incomplete.'};
      if (!/^\d{13,19}$/.test(number)) return {type: 'validation_error', code: 'invalid_number', message: 'Your card number is invalid.'};
      if (!el._inputs.expiry.value.trim()) return {type: 'validation_error', code: 'incomplete_expiry', message: "Your card's expiration date is incomplete."};
      if (!exp) return {type: 'validation_error', code: 'invalid_expiry_month', message: "Your card's expiration date is invalid."};
      if (!cvc) return {type: 'validation_error', code: 'incomplete_cvc', message: "Your card's security code is incomplete."};
      if (!/^\d{3,4}$/.test(cvc)) return {type: 'validation_error', code: 'invalid_cvc', message: "Your card's security code is invalid."};
      return null;
    }
  }

  // The 3D Secure challenge: a modal dialog; resolves true (complete) or false (fail).
  function challenge() {
    return new Promise(resolve => {
      addStyle();
      const previous = document.activeElement;
      const backdrop = document.createElement('div');
      backdrop.className = 'ls-3ds-backdrop';
      backdrop.innerHTML = `
<div class="ls-3ds" role="dialog" aria-modal="true" aria-labelledby="localstripe-3ds-title"
     aria-describedby="localstripe-3ds-text">
  <h2 id="localstripe-3ds-title">3D Secure authentication</h2>
  <p id="localstripe-3ds-text">Test payment (localstripe): complete or fail the card
  issuer's authentication.</p>
  <button type="button" id="localstripe-3ds-complete">Complete authentication</button>
  <button type="button" id="localstripe-3ds-fail">Fail authentication</button>
</div>`;
      document.body.appendChild(backdrop);
      const done = ok => {
        backdrop.remove();
        if (previous && previous.focus) previous.focus();
        resolve(ok);
      };
      backdrop.querySelector('#localstripe-3ds-complete').addEventListener('click', () => done(true));
      backdrop.querySelector('#localstripe-3ds-fail').addEventListener('click', () => done(false));
      backdrop.addEventListener('keydown', e => { if (e.key === 'Escape') done(false); });
      backdrop.querySelector('#localstripe-3ds-complete').focus();
    });
  }

  function Stripe(publishableKey, options) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey, options);
    if (typeof publishableKey !== 'string' || !publishableKey.startsWith('pk_')) {
      throw new Error('Invalid value for Stripe(): apiKey should be a publishable key (pk_...).');
    }
    this._key = publishableKey;
  }

  Stripe.prototype.elements = function (options) {
    return new Elements(this, options);
  };

  Stripe.prototype.confirmPayment = async function (params) {
    params = params || {};
    const elements = params.elements;
    if (!(elements instanceof Elements)) {
      return {error: {type: 'validation_error',
        message: 'stripe.confirmPayment needs the `elements` the Payment Element was created from.'}};
    }
    const clientSecret = params.clientSecret || elements._options.clientSecret;
    if (typeof clientSecret !== 'string' || !clientSecret.includes('_secret_')) {
      return {error: {type: 'validation_error', message: 'Missing or invalid clientSecret.'}};
    }
    const redirect = params.redirect || 'always';
    const returnUrl = params.confirmParams && params.confirmParams.return_url;
    if (redirect === 'always' && !returnUrl) {
      return {error: {type: 'validation_error',
        message: 'stripe.confirmPayment(): the `confirmParams.return_url` argument is required ' +
                 'unless passing `redirect: \'if_required\'`.'}};
    }
    const invalid = elements._validate();
    if (invalid) return {error: invalid};

    const {number, exp, cvc} = elements._payment._card();
    let r = await post('/_paylink/confirm_payment', {
      key: this._key,
      client_secret: clientSecret,
      card: {number, exp_month: exp.month, exp_year: exp.year, cvc},
    });
    if (r.status !== 200 || r.body.error) return {error: toError(r.status, r.body)};
    let pi = r.body;

    if (pi.status === 'requires_action') {
      const ok = await challenge();
      const id = clientSecret.split('_secret_')[0];
      r = await post(`/v1/payment_intents/${id}/_authenticate?success=${ok}`,
                     {key: this._key, client_secret: clientSecret});
      if (r.status !== 200 || r.body.error) return {error: toError(r.status, r.body)};
      pi = r.body;
      if (!ok || pi.status === 'requires_payment_method') {
        const last = pi.last_payment_error || {};
        return {error: {
          type: 'card_error',
          code: last.code || 'payment_intent_authentication_failure',
          message: last.message ||
            'We are unable to authenticate your payment method. Please choose a different ' +
            'payment method and try again.',
          payment_intent: pi,
        }};
      }
    }

    // Stripe redirects to return_url unless redirect is 'if_required' and the payment method
    // needs no redirect (a card never does here).
    if (redirect === 'always' && returnUrl) {
      const u = new URL(returnUrl, location.href);
      u.searchParams.set('payment_intent', pi.id);
      u.searchParams.set('payment_intent_client_secret', clientSecret);
      u.searchParams.set('redirect_status', pi.status === 'succeeded' ? 'succeeded' : 'failed');
      location.assign(u.toString());
      return new Promise(() => {});
    }
    return {paymentIntent: pi};
  };

  // stripe.confirmSetup: a SetupIntent saves the card for later (a subscription's trial).
  // localstripe takes the card on its own SetupIntent confirm route with the publishable key.
  Stripe.prototype.confirmSetup = async function (params) {
    params = params || {};
    const elements = params.elements;
    if (!(elements instanceof Elements)) {
      return {error: {type: 'validation_error',
        message: 'stripe.confirmSetup needs the `elements` the Payment Element was created from.'}};
    }
    const clientSecret = params.clientSecret || elements._options.clientSecret;
    if (typeof clientSecret !== 'string' || !clientSecret.startsWith('seti_')) {
      return {error: {type: 'validation_error', message: 'Missing or invalid clientSecret.'}};
    }
    const invalid = elements._validate();
    if (invalid) return {error: invalid};
    const id = clientSecret.split('_secret_')[0];
    const {number, exp, cvc} = elements._payment._card();
    let r = await post(`/v1/setup_intents/${id}/confirm`, {
      key: this._key,
      client_secret: clientSecret,
      use_stripe_sdk: true,
      payment_method_data: {type: 'card',
        card: {number, exp_month: exp.month, exp_year: exp.year, cvc}},
    });
    if (r.status !== 200 || r.body.error) return {error: toError(r.status, r.body)};
    let si = r.body;
    if (si.status === 'requires_action') {
      const ok = await challenge();
      r = await post(`/v1/setup_intents/${id}/${ok ? 'confirm' : 'cancel'}`,
                     {key: this._key, client_secret: clientSecret, use_stripe_sdk: true});
      if (r.status !== 200 || r.body.error) return {error: toError(r.status, r.body)};
      si = r.body;
      if (!ok) {
        return {error: {type: 'card_error', code: 'setup_intent_authentication_failure',
          message: 'We are unable to authenticate your payment method.', setup_intent: si}};
      }
    }
    return {setupIntent: si};
  };

  Stripe.prototype.retrievePaymentIntent = async function (clientSecret) {
    let response;
    try {
      response = await fetch(`${BASE}/_paylink/payment_intent?client_secret=` +
                             encodeURIComponent(clientSecret) + '&key=' +
                             encodeURIComponent(this._key));
    } catch (e) {
      return {error: {type: 'api_connection_error', message: String(e)}};
    }
    const body = await response.json().catch(() => ({}));
    if (response.status !== 200) return {error: toError(response.status, body)};
    return {paymentIntent: body};
  };

  window.Stripe = Stripe;
})();
